import { Agent as HttpAgent, createServer, request as httpRequest, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { Agent as HttpsAgent, createServer as createHttpsServer, request as httpsRequest, type Server as HttpsServer } from 'node:https';
import {
  DEFAULT_IN_FLIGHT_LIMITS, InFlightLimiter, authorize, declareRoutes, forwardedRequestHeaders, type AccessDecision, type AuditRecord, type Permission, type Principal, type RouteMethod,
} from '../access/index.js';
import { ChimeError } from '../errors/index.js';
import type { Logger } from '../log/index.js';
import { MAX_BODY_BYTES, discardBody, parseJsonBody, readBodyBytes, readJsonBody } from './body.js';
import { asChimeError, sendProblem } from './problem.js';
import type { AccessControl, LeaderGate, RequestObserver } from './services.js';

export interface RequestContext {
  readonly req: IncomingMessage;
  readonly res: ServerResponse;
  readonly url: URL;
  readonly params: Readonly<Record<string, string>>;
  /** Who asked, as the access check found (on the leader: checked again there). */
  readonly principal: Principal;
  body(): Promise<unknown>;
  /** The audit record of this request, as a write commits it: who, what, when. */
  audit(target: string | null): AuditRecord;
}

/**
 * A route cannot exist without the permission it needs: the field is required here, and
 * `serve` passes the table through src/access's declareRoutes, which refuses (at startup) an
 * unknown permission, a public write or a route declared twice.
 */
export interface Route {
  readonly method: RouteMethod;
  /** Path with `:name` segments. */
  readonly path: string;
  readonly permission: Permission;
  /** Writes run on the leader: a follower forwards the request as it is. */
  readonly write: boolean;
  readonly handle: (ctx: RequestContext) => Promise<void>;
}

const AUDIT_PATH_CHARS_MAX = 1024;
const AUDIT_TARGET_CHARS_MAX = 256;
const AUDIT_ACTOR_CHARS_MAX = 64;

export interface ApiOptions {
  readonly logger: Logger;
  readonly observer?: RequestObserver;
  /** How long a write waits for a leader to be known before answering 503. */
  readonly leaderWaitMs?: number;
  readonly forwardTimeoutMs?: number;
  /** Serve HTTPS only with this certificate and key (PEM); absent: plain HTTP. */
  readonly tls?: ApiTls;
  /** Requests in flight at once per connection and per token; beyond, 429 (default src/access's). */
  readonly inFlight?: { readonly connection: number; readonly token: number };
}

export interface ApiTls {
  readonly cert: string | Buffer;
  readonly key: string | Buffer;
  /** What a forward to the leader's HTTPS API trusts (--peer-ca; else the node's own certificate): never the system store. */
  readonly forwardCa: string | Buffer;
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
  private readonly server: Server | HttpsServer;
  private readonly https: HttpsServer | null;
  private readonly options: ApiOptions;
  private gate: LeaderGate | null = null;
  private access: AccessControl | null = null;
  private compiled: CompiledRoute[] = [];
  /** Kept-alive connections to the leader: a new TCP connection per forwarded write costs more than the write. */
  private forwardAgent: HttpAgent | HttpsAgent;
  private readonly inFlight: InFlightLimiter<'connection' | 'token'>;
  /** A number per connection, the in-flight limiter's key (a socket is not a string). */
  private readonly connectionIds = new WeakMap<object, string>();
  private nextConnectionId = 1;

  constructor(options: ApiOptions) {
    this.options = options;
    this.inFlight = new InFlightLimiter(options.inFlight ?? DEFAULT_IN_FLIGHT_LIMITS);
    this.forwardAgent = forwardAgentOf(options.tls);
    const handler = (req: IncomingMessage, res: ServerResponse): void => void this.dispatch(req, res);
    // TLS 1.2 at least; a plain-HTTP request to this port fails its handshake and is closed.
    this.https = options.tls === undefined ? null : createHttpsServer({ cert: options.tls.cert, key: options.tls.key, minVersion: 'TLSv1.2' }, handler);
    this.server = this.https ?? createServer(handler);
    // `Expect: 100-continue`: a body declared over the limit is refused before the client
    // sends it; any other request goes on as usual.
    this.server.on('checkContinue', (req: IncomingMessage, res: ServerResponse) => {
      if (Number(req.headers['content-length'] ?? '0') > MAX_BODY_BYTES) {
        res.setHeader('connection', 'close');
        sendProblem(res, new ChimeError('BODY_TOO_LARGE', `the body is ${req.headers['content-length']} bytes; at most ${MAX_BODY_BYTES} are accepted`));
        return;
      }
      res.writeContinue();
      handler(req, res);
    });
    this.server.keepAliveTimeout = 30_000;
    this.server.headersTimeout = 10_000;
    this.server.requestTimeout = 120_000;
    this.server.maxHeadersCount = 100;
  }

  /** Starts answering with `routes`; every request passes `access` first (throws on a route table that breaks declareRoutes' rules). */
  serve(gate: LeaderGate, routes: readonly Route[], access: AccessControl): void {
    this.compiled = declareRoutes(routes).map(compile);
    this.access = access;
    this.gate = gate;
  }

  /** Replaces the certificate and key for new connections (SIGHUP); throws, keeping the old ones, when they are unusable. */
  reloadTls(tls: ApiTls): void {
    if (this.https === null) throw new Error('this API serves plain HTTP: start it with --tls-cert/--tls-key to reload certificates');
    this.https.setSecureContext({ cert: tls.cert, key: tls.key, minVersion: 'TLSv1.2' });
    const old = this.forwardAgent;
    this.forwardAgent = forwardAgentOf(tls);
    old.destroy();
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
      const access = this.access;
      if (gate === null || access === null) throw new ChimeError('STARTING', 'the node is starting');
      const match = this.match(req.method ?? 'GET', url.pathname);
      if (match === null) throw new ChimeError('ROUTE_NOT_FOUND', `no route for ${req.method} ${url.pathname}`);
      if ('allowed' in match) {
        res.setHeader('allow', match.allowed.join(', '));
        throw new ChimeError('METHOD_NOT_ALLOWED', `${url.pathname} allows ${match.allowed.join(', ')}`);
      }
      routeName = `${match.route.method} ${match.route.path}`;
      // Every request is checked here, before any of its body is read, on every node: a
      // follower checks before it forwards (the leader checks the same credentials again).
      const principal = await this.check(access, gate, req, url, match.route, res);
      this.admit(req, res, principal);
      let bodyRead: Promise<unknown> | null = null;
      if (match.route.write && !gate.isLeader()) {
        const forwarded = await this.forward(gate, req, res, url);
        if (forwarded === true) return;
        // This node became the leader while waiting for one: it answers the write itself.
        bodyRead = Promise.resolve().then(() => parseJsonBody(forwarded, req.headers['content-type']));
      }
      const method = match.route.method;
      const audit = (target: string | null): AuditRecord => ({
        at: access.nowMs(), actor: principal.name.slice(0, AUDIT_ACTOR_CHARS_MAX), method, path: url.pathname.slice(0, AUDIT_PATH_CHARS_MAX),
        target: target === null ? null : target.slice(0, AUDIT_TARGET_CHARS_MAX),
      });
      await match.route.handle({ req, res, url, params: match.params, principal, audit, body: () => (bodyRead ??= readJsonBody(req)) });
    } catch (error) {
      const problem = asChimeError(error);
      if (problem.code === 'INTERNAL') this.options.logger.error('request failed', { route: routeName, error: String(error) });
      // A refusal before the body was read (access, size): a bounded rest is read and dropped
      // so that a client still writing gets to read the answer, then the connection closes.
      if (!req.complete && !res.headersSent) {
        res.setHeader('connection', 'close');
        await discardBody(req);
      }
      this.answerProblem(res, problem);
    } finally {
      this.options.observer?.answered(routeName, res.statusCode, (performance.now() - startedMs) / 1000);
    }
  }

  /**
   * The access check (src/access's authorize) of one request, or the refusal thrown as a
   * ChimeError with its status (and WWW-Authenticate on 401). An unready registry is first
   * given a bounded chance to become ready; a token unknown here may be one just created and
   * not yet applied on this node, so after a catch-up it is tried once more.
   */
  private async check(access: AccessControl, gate: LeaderGate, req: IncomingMessage, url: URL, route: Route, res: ServerResponse): Promise<Principal> {
    if (route.permission !== 'public' && !access.isReady()) await access.becomeReady();
    const decide = (): AccessDecision => authorize({
      method: req.method ?? 'GET', permission: route.permission, authorizationHeader: req.headers.authorization, url: req.url ?? '/',
      origin: req.headers.origin, host: req.headers.host, nodeOrigins: access.nodeOrigins(), metricsOpen: access.metricsOpen, registryReady: access.isReady(),
    }, access.tokens(), access.nowMs());
    let decision = decide();
    if (!decision.ok && decision.code === 'TOKEN_INVALID' && !gate.isLeader() && await access.catchUp()) decision = decide();
    if (decision.ok) return decision.principal;
    this.options.observer?.refused?.(decision.code);
    if (decision.wwwAuthenticate !== undefined) res.setHeader('www-authenticate', decision.wwwAuthenticate);
    throw new ChimeError(decision.code, decision.detail);
  }

  /**
   * Bounds what one connection and one token have in flight (429 beyond), so a single
   * client cannot hold every slot of the node (long waits included). Released when the
   * answer is finished or the connection closes. Anonymous callers (a cluster without tokens,
   * public routes) are bounded per connection only.
   */
  private admit(req: IncomingMessage, res: ServerResponse, principal: Principal): void {
    let connection = this.connectionIds.get(req.socket);
    if (connection === undefined) {
      connection = String(this.nextConnectionId++);
      this.connectionIds.set(req.socket, connection);
    }
    const slot = this.inFlight.tryAcquire(principal.tokenId === null ? { connection } : { connection, token: principal.tokenId });
    if (!slot.ok) {
      this.options.observer?.refused?.(slot.code);
      throw new ChimeError(slot.code, slot.message);
    }
    res.once('finish', slot.release).once('close', slot.release);
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
    // The caller's own credentials go on unchanged and the leader checks them again: a
    // forward never carries more right than the caller has (src/access/forward.ts).
    const headers: Record<string, string> = { ...forwardedRequestHeaders(req.headers), [FORWARDED_HEADER]: String(hops + 1) };
    headers['content-length'] = String(body.length);
    await new Promise<void>((resolve, reject) => {
      const send = this.https === null ? httpRequest : httpsRequest;
      const upstream = send({ agent: this.forwardAgent, host, port, method: req.method, path: url.pathname + url.search, headers, timeout: this.options.forwardTimeoutMs ?? FORWARD_TIMEOUT_MS_DEFAULT }, (answer) => {
        const relay: Record<string, string> = {};
        for (const name of ['content-type', 'retry-after', 'location', 'www-authenticate']) {
          const value = answer.headers[name];
          if (typeof value === 'string') relay[name] = value;
        }
        res.writeHead(answer.statusCode ?? 502, relay);
        answer.pipe(res);
        answer.on('end', resolve);
        answer.on('error', reject);
      });
      upstream.on('timeout', () => upstream.destroy(new Error('the leader did not answer in time')));
      upstream.on('error', (error) => reject(new ChimeError('NO_LEADER', `forwarding to the leader failed: ${error.message}`)));
      upstream.end(body);
    });
    return true;
  }
}

/** Kept-alive connections to the leader (idle sockets close before the server's 30 s keep-alive does). */
function forwardAgentOf(tls: ApiTls | undefined): HttpAgent | HttpsAgent {
  const keep = { keepAlive: true, maxSockets: 256, maxFreeSockets: 64, timeout: 20_000 };
  return tls === undefined ? new HttpAgent(keep) : new HttpsAgent({ ...keep, ca: tls.forwardCa, minVersion: 'TLSv1.2' });
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

function readRawBody(req: IncomingMessage): Promise<Buffer> {
  return readBodyBytes(req);
}

export function splitHostPort(address: string): [string, number] {
  const at = address.lastIndexOf(':');
  const host = address.slice(0, at).replace(/^\[|\]$/g, '');
  return [host, Number(address.slice(at + 1))];
}
