// The web console's static files (src/console, compiled to dist/console at build time),
// served by every node without a token. The files come through a reader the wiring injects,
// so this folder knows nothing of where they live (disk, or the single executable's assets).
import { createHash } from 'node:crypto';
import { brotliCompressSync, constants as zlib, gzipSync } from 'node:zlib';
import { ChimeError } from '../errors/index.js';
import type { Reply, RequestHead } from './reply.js';
import type { Route } from './server.js';

/** Reads one static file by its name under the console folder; null when there is none. */
export type AssetReader = (name: string) => Buffer | null;

const TYPES: Readonly<Record<string, string>> = {
  html: 'text/html; charset=utf-8',
  js: 'text/javascript; charset=utf-8',
  css: 'text/css; charset=utf-8',
  svg: 'image/svg+xml',
  png: 'image/png',
  ico: 'image/x-icon',
  json: 'application/json',
  txt: 'text/plain; charset=utf-8',
};

/** Flat names only: the console is one folder, and nothing else may be reached through it. */
const ASSET_NAME = /^[a-z0-9][a-z0-9._-]{0,63}\.(html|js|css|svg|png|ico|json|txt)$/;
const COMPRESSIBLE = new Set(['html', 'js', 'css', 'svg', 'json', 'txt']);
/** The console has about twenty files; a bound keeps a stream of odd names from growing memory. */
const CACHED_FILES_MAX = 128;

/**
 * No inline script or style, nothing from another origin: the console talks only to the node
 * that served it. `connect-src 'self'` is also why a page stays with its node (docs/console).
 */
export const CONSOLE_CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "manifest-src 'self'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ');

interface Prepared {
  readonly type: string;
  readonly etag: string;
  readonly identity: Buffer;
  readonly gzip: Buffer | null;
  readonly br: Buffer | null;
}

function prepare(name: string, bytes: Buffer): Prepared {
  const ext = name.slice(name.lastIndexOf('.') + 1);
  const compressible = COMPRESSIBLE.has(ext) && bytes.length > 256;
  return {
    type: TYPES[ext] ?? 'application/octet-stream',
    etag: `"${createHash('sha256').update(bytes).digest('base64url').slice(0, 22)}"`,
    identity: bytes,
    gzip: compressible ? gzipSync(bytes, { level: 9 }) : null,
    br: compressible ? brotliCompressSync(bytes, { params: { [zlib.BROTLI_PARAM_QUALITY]: 11, [zlib.BROTLI_PARAM_SIZE_HINT]: bytes.length } }) : null,
  };
}

/** The best encoding the client accepts (q=0 refuses one), brotli before gzip. */
export function chooseEncoding(acceptEncoding: string | undefined): 'br' | 'gzip' | null {
  if (acceptEncoding === undefined) return null;
  const accepted = new Set<string>();
  for (const part of acceptEncoding.toLowerCase().split(',')) {
    const [coding = '', ...params] = part.trim().split(';');
    const q = params.map((p) => p.trim()).find((p) => p.startsWith('q='));
    if (q !== undefined && Number(q.slice(2)) === 0) continue;
    accepted.add(coding.trim());
  }
  if (accepted.has('br')) return 'br';
  if (accepted.has('gzip') || accepted.has('*')) return 'gzip';
  return null;
}

/**
 * `GET /` (the console's index.html) and `GET /console/NAME` (its scripts and styles). Every
 * answer carries the CSP, an ETag of the content (a revalidation is a 304, so `no-cache`
 * costs one round trip and never a stale script after an upgrade) and the smallest encoding
 * the client accepts. Files are read and compressed once per process.
 */
export function consoleRoutes(assets: AssetReader): Route[] {
  const cache = new Map<string, Prepared>();
  const load = (name: string): Prepared | null => {
    const known = cache.get(name);
    if (known !== undefined) return known;
    const bytes = assets(name);
    if (bytes === null) return null;
    const prepared = prepare(name, bytes);
    if (cache.size < CACHED_FILES_MAX) cache.set(name, prepared);
    return prepared;
  };
  const serve = (name: string, req: RequestHead, res: Reply): void => {
    const file = ASSET_NAME.test(name) ? load(name) : null;
    if (file === null) throw new ChimeError('ROUTE_NOT_FOUND', name === 'index.html' ? 'the console is not built (npm run build writes dist/console)' : `no console file ${name}`);
    const headers: Record<string, string> = {
      'content-type': file.type,
      'content-security-policy': CONSOLE_CSP,
      'x-content-type-options': 'nosniff',
      'referrer-policy': 'no-referrer',
      'cache-control': 'no-cache',
      etag: file.etag,
      vary: 'accept-encoding',
    };
    if (req.headers['if-none-match'] === file.etag) {
      res.writeHead(304, headers).end();
      return;
    }
    const encoding = chooseEncoding(req.headers['accept-encoding']);
    const body = encoding === 'br' ? file.br : encoding === 'gzip' ? file.gzip : null;
    if (body !== null && encoding !== null) headers['content-encoding'] = encoding;
    const sent = body ?? file.identity;
    headers['content-length'] = String(sent.length);
    res.writeHead(200, headers).end(sent);
  };
  return [
    { method: 'GET', path: '/', permission: 'public', write: false, handle: async ({ req, res }) => serve('index.html', req, res) },
    { method: 'GET', path: '/console/:name', permission: 'public', write: false, handle: async ({ req, res, params }) => serve(params['name'] ?? '', req, res) },
  ];
}
