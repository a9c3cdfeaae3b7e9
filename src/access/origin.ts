// Which origins are a node's own (api.md, "Browsers"): `http(s)://` plus the Host the request
// came with, and the node's --http address. A browser write from any other origin is refused,
// tokens or not, so a page elsewhere cannot drive the API with a user's ambient access.
import { refused, type Refused } from './codes.js';
import { isReadMethod } from './routes.js';

/** host, host:port, [v6], [v6]:port: what a Host header or an --http address may be. Anything else names no origin. */
const HOST_PATTERN = /^(?:[A-Za-z0-9](?:[A-Za-z0-9.-]{0,251}[A-Za-z0-9])?|\[[0-9A-Fa-f:.]{2,45}\])(?::\d{1,5})?$/;

/** The normalised origin (`scheme://host[:port]`, default port dropped, lower case) of scheme + host, or null. */
function originFrom(scheme: 'http' | 'https', host: string): string | null {
  if (!HOST_PATTERN.test(host)) return null;
  try {
    return new URL(`${scheme}://${host}`).origin;
  } catch {
    return null;
  }
}

/** Both origins of each `host:port` the node serves on (its --http address, as configured and as bound). */
export function nodeOriginsOf(httpAddresses: readonly string[]): string[] {
  const out = new Set<string>();
  for (const address of httpAddresses) {
    for (const scheme of ['http', 'https'] as const) {
      const origin = originFrom(scheme, address);
      if (origin !== null) out.add(origin);
    }
  }
  return [...out];
}

/**
 * Whether an Origin header names one of the node's own origins. It must be a serialised
 * origin exactly as browsers send it (no path, no default port): anything else, `null`
 * included (sandboxed frames, file: pages, some redirects), is foreign.
 */
export function isOwnOrigin(origin: string, host: string | undefined, nodeOrigins: readonly string[]): boolean {
  let normalised: string;
  try {
    const url = new URL(origin);
    if (url.protocol !== 'http:' && url.protocol !== 'https:') return false;
    normalised = url.origin;
  } catch {
    return false;
  }
  if (normalised !== origin.toLowerCase()) return false;
  if (nodeOrigins.includes(normalised)) return true;
  return host !== undefined && (originFrom('http', host) === normalised || originFrom('https', host) === normalised);
}

/** FOREIGN_ORIGIN for a write whose Origin is not the node's own; null for reads and for requests without Origin (not from a browser page). */
export function foreignOriginProblem(method: string, origin: string | undefined, host: string | undefined, nodeOrigins: readonly string[]): Refused<'FOREIGN_ORIGIN'> | null {
  if (isReadMethod(method) || origin === undefined) return null;
  if (isOwnOrigin(origin, host, nodeOrigins)) return null;
  return refused('FOREIGN_ORIGIN', `a write from origin ${origin.slice(0, 100)} is refused: it is not this node's own origin`);
}

/**
 * Whether a Host names this machine's loopback or one of the node's own addresses. Used only
 * where no token is needed (a cluster without tokens): there a page on any site could rebind
 * its DNS name to 127.0.0.1 and become same-origin by the Host rule above; refusing foreign
 * Host names closes that door. No Host (HTTP/1.0 tools) is not a browser, and passes.
 */
export function isLocalHost(host: string | undefined, nodeOrigins: readonly string[]): boolean {
  if (host === undefined) return true;
  // Every request of a cluster without tokens asks, and clients send a handful of Host
  // values: the answer is kept per node (its origins) and Host, bounded, instead of parsing
  // one or two URLs per request.
  let known = localHostAnswers.get(nodeOrigins);
  if (known === undefined) localHostAnswers.set(nodeOrigins, (known = new Map()));
  const answer = known.get(host);
  if (answer !== undefined) return answer;
  const fresh = hostIsLocal(host, nodeOrigins);
  if (known.size < LOCAL_HOST_ANSWERS_MAX) known.set(host, fresh);
  return fresh;
}

/** Distinct Host values remembered per node; past it each is checked afresh. */
const LOCAL_HOST_ANSWERS_MAX = 256;
const localHostAnswers = new WeakMap<readonly string[], Map<string, boolean>>();

function hostIsLocal(host: string, nodeOrigins: readonly string[]): boolean {
  const origin = originFrom('http', host);
  if (origin === null) return false;
  if (nodeOrigins.includes(origin)) return true;
  const name = new URL(origin).hostname;
  return name === 'localhost' || name.endsWith('.localhost') || name === '[::1]' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(name);
}
