import { Agent as HttpAgent, createServer, request as httpRequest, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { ChimeError } from '../errors/index.js';
import type { Logger } from '../log/index.js';
import { MAX_BODY_BYTES, parseJsonBody, readJsonBody } from './body.js';
import { asChimeError, sendProblem } from './problem.js';
import type { LeaderGate, RequestObserver } from './services.js';

export interface RequestContext {
  readonly req: IncomingMessage;
  readonly res: ServerResponse;
  readonly url: URL;
  readonly params: Readonly<Record<string, string>>;
  body(): Promise<unknown>;
}

export interface Route {
  readonly method: string;
  /** Path with `:name` segments. */
  readonly path: string;
  /** Writes run on the leader: a follower forwards the request as it is. */
  readonly write: boolean;
  readonly handle: (ctx: RequestContext) => Promise<void>;
}

export interface ApiOptions {
  readonly logger: Logger;
  readonly observer?: RequestObserver;
  /** How long a write waits for a leader to be known before answering 503. */
  readonly leaderWaitMs?: number;
  readonly forwardTimeoutMs?: number;
}

interface CompiledRoute {
  readonly route: Route;
  readonly pattern: RegExp;
  readonly names: readonly string[];
}

const FORWARDED_HEADER = 'x-chime-forwarded';
const MAX_FORWARD_HOPS = 2;
const LEADER_WAIT_MS_DEFAULT = 3000;
const LEADER_POLL_MS = 20;
const FORWARD_TIMEOUT_MS_DEFAULT = 65_000;

/**
 * The HTTP API served by every node. It listens before the node runtime exists (the node must
 * know its own address first) and answers 503 STARTING until `serve` hands it the routes.
 */
export class ApiServer {
  private readonly server: Server;
  private readonly options: ApiOptions;
  private gate: LeaderGate | null = null;
  private compiled: CompiledRoute[] = [];
  /** Kept-alive connections to the leader: a new TCP connection per forwarded write costs more than the write. */
  private readonly forwardAgent = new HttpAgent({ keepAlive: true, maxSockets: 256, maxFreeSockets: 64, timeout: 20_000 }); // idle sockets close before the server's 30 s keep-alive does

  constructor(options: ApiOptions) {
    this.options = options;
    this.server = createServer((req, res) => void this.dispatch(req, res));
    this.server.keepAliveTimeout = 30_000;
    this.server.headersTimeout = 10_000;
    this.server.requestTimeout = 120_000;
    this.server.maxHeadersCount = 100;
  }

  serve(gate: LeaderGate, routes: readonly Route[]): void {
    this.gate = gate;
    this.compiled = routes.map(compile);
  }

  async listen(host: string, port: number): Promise<string> {
    await new Promise<void>((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(port, host, () => resolve());
    });
    const address = this.server.address();
    if (address === null || typeof address === 'string') throw new Error('the API server has no TCP address');
    return `${host.includes(':') ? `[${host}]` : host}:${address.port}`;
  }

  async close(): Promise<void> {
    await new Promise<void>((resolve) => {
      this.server.close(() => resolve());
      this.server.closeAllConnections();
    });
    this.forwardAgent.destroy();
  }

  private async dispatch(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://local');
    const startedMs = performance.now();
    let routeName = 'unmatched';
    try {
      const gate = this.gate;
      if (gate === null) throw new ChimeError('STARTING', 'the node is starting');
      const match = this.match(req.method ?? 'GET', url.pathname);
      if (match === null) throw new ChimeError('ROUTE_NOT_FOUND', `no route for ${req.method} ${url.pathname}`);
      if ('allowed' in match) {
        res.setHeader('allow', match.allowed.join(', '));
        throw new ChimeError('METHOD_NOT_ALLOWED', `${url.pathname} allows ${match.allowed.join(', ')}`);
      }
      routeName = `${match.route.method} ${match.route.path}`;
      let bodyRead: Promise<unknown> | null = null;
      if (match.route.write && !gate.isLeader()) {
        const forwarded = await this.forward(gate, req, res, url);
        if (forwarded === true) return;
        // This node became the leader while waiting for one: it answers the write itself.
        bodyRead = Promise.resolve().then(() => parseJsonBody(forwarded, req.headers['content-type']));
      }
      await match.route.handle({ req, res, url, params: match.params, body: () => (bodyRead ??= readJsonBody(req)) });
    } catch (error) {
      const problem = asChimeError(error);
      if (problem.code === 'INTERNAL') this.options.logger.error('request failed', { route: routeName, error: String(error) });
      this.answerProblem(res, problem);
    } finally {
      this.options.observer?.answered(routeName, res.statusCode, (performance.now() - startedMs) / 1000);
    }
  }

  private answerProblem(res: ServerResponse, problem: ChimeError): void {
    if (res.headersSent) {
      res.destroy();
      return;
    }
    if (problem.code === 'BODY_TOO_LARGE') res.setHeader('connection', 'close');
    sendProblem(res, problem);
  }

  private match(method: string, path: string): { route: Route; params: Record<string, string> } | { allowed: string[] } | null {
    const allowed: string[] = [];
    // HEAD is allowed wherever GET is: the same handler, and node:http sends no body for it.
    const wanted = method === 'HEAD' ? 'GET' : method;
    for (const { route, pattern, names } of this.compiled) {
      const m = pattern.exec(path);
      if (m === null) continue;
      if (route.method !== wanted) {
        allowed.push(route.method);
        if (route.method === 'GET') allowed.push('HEAD');
        continue;
      }
      const params: Record<string, string> = {};
      names.forEach((name, i) => (params[name] = decodeURIComponent(m[i + 1] ?? '')));
      return { route, params };
    }
    return allowed.length > 0 ? { allowed } : null;
  }

  /** Waits (bounded) for a known leader's HTTP address; null when this node became leader. */
  private async leaderAddress(gate: LeaderGate): Promise<string | null> {
    const untilMs = performance.now() + (this.options.leaderWaitMs ?? LEADER_WAIT_MS_DEFAULT);
    for (;;) {
      if (gate.isLeader()) return null;
      const http = gate.leaderHttp();
      if (http !== null) return http;
      if (performance.now() >= untilMs) throw new ChimeError('NO_LEADER', 'no leader is reachable right now; retry shortly');
      await new Promise((r) => setTimeout(r, LEADER_POLL_MS));
    }
  }

  /**
   * Sends the request on to the leader and relays its answer unchanged (true), or returns
   * the body it read when this node itself became the leader meanwhile.
   */
  private async forward(gate: LeaderGate, req: IncomingMessage, res: ServerResponse, url: URL): Promise<true | Buffer> {
    const hops = Number(req.headers[FORWARDED_HEADER] ?? '0');
    if (hops >= MAX_FORWARD_HOPS) throw new ChimeError('NOT_LEADER', 'the request was forwarded but no node accepted it as leader');
    const body = await readRawBody(req);
    const target = await this.leaderAddress(gate);
    if (target === null) return body;
    const [host, port] = splitHostPort(target);
    const headers: Record<string, string> = { [FORWARDED_HEADER]: String(hops + 1) };
    for (const name of ['content-type', 'accept']) {
      const value = req.headers[name];
      if (typeof value === 'string') headers[name] = value;
    }
    headers['content-length'] = String(body.length);
    await new Promise<void>((resolve, reject) => {
      const upstream = httpRequest({ agent: this.forwardAgent, host, port, method: req.method, path: url.pathname + url.search, headers, timeout: this.options.forwardTimeoutMs ?? FORWARD_TIMEOUT_MS_DEFAULT }, (answer) => {
        const relay: Record<string, string> = {};
        for (const name of ['content-type', 'retry-after', 'location']) {
          const value = answer.headers[name];
          if (typeof value === 'string') relay[name] = value;
        }
        res.writeHead(answer.statusCode ?? 502, relay);
        answer.pipe(res);
        answer.on('end', resolve);
        answer.on('error', reject);
      });
      upstream.on('timeout', () => upstream.destroy(new Error('the leader did not answer in time')));
      // The client hung up: tell the leader too, so a long-poll (a worker's claim) ends there
      // instead of taking work for nobody. A write already proposed still commits.
      res.once('close', () => {
        if (!res.writableFinished) upstream.destroy();
      });
      upstream.on('error', (error) => {
        if (res.destroyed || res.writableEnded) return resolve(); // nobody to answer
        reject(new ChimeError('NO_LEADER', `forwarding to the leader failed: ${error.message}`));
      });
      upstream.end(body);
    });
    return true;
  }
}

function compile(route: Route): CompiledRoute {
  const names: string[] = [];
  const pattern = new RegExp(
    '^' +
      route.path.replace(/:([a-zA-Z]+)/g, (_, name: string) => {
        names.push(name);
        return '([^/]+)';
      }) +
      '$',
  );
  return { route, pattern, names };
}

async function readRawBody(req: IncomingMessage): Promise<Buffer> {
  // As readJsonBody: a declared size over the limit is refused before reading any of it.
  const declared = Number(req.headers['content-length'] ?? '0');
  if (declared > MAX_BODY_BYTES) throw new ChimeError('BODY_TOO_LARGE', `the body is ${declared} bytes; at most ${MAX_BODY_BYTES} are accepted`);
  const chunks: Buffer[] = [];
  let total = 0;
  for await (const chunk of req) {
    if (!Buffer.isBuffer(chunk)) continue;
    total += chunk.length;
    if (total > MAX_BODY_BYTES) throw new ChimeError('BODY_TOO_LARGE', `the body exceeds ${MAX_BODY_BYTES} bytes`);
    chunks.push(chunk);
  }
  return Buffer.concat(chunks);
}

export function splitHostPort(address: string): [string, number] {
  const at = address.lastIndexOf(':');
  const host = address.slice(0, at).replace(/^\[|\]$/g, '');
  return [host, Number(address.slice(at + 1))];
}
