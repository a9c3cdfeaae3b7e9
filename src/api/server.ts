import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { randomBytes } from 'node:crypto';
import { createServer as createHttpsServer, type Server as HttpsServer } from 'node:https';
import {
  CredentialMemo, DEFAULT_IN_FLIGHT_LIMITS, InFlightLimiter, authorize, declareRoutes, forwardedRequestHeaders, type AccessDecision, type AuditRecord, type Permission, type Principal, type RouteMethod,
} from '../access/index.js';
import { ChimeError, isChimeError } from '../errors/index.js';
import type { Logger } from '../log/index.js';
import { MAX_BODY_BYTES, discardBody, parseJsonBody, readBodyBytes } from './body.js';
import { DEFAULT_FORWARD_LIMITS, ForwardChannel, type ForwardLimits, type ForwardLink } from './forward-channel.js';
import type { ForwardAnswer, ForwardFrame, ForwardMethod, ForwardRequest } from './forward-wire.js';
import { asChimeError, sendProblem } from './problem.js';
import { BufferedReply, type Reply, type RequestHead } from './reply.js';
import { parseWait, WAIT_MS_MAX } from './wait.js';
import type { AccessControl, LeaderGate, RequestObserver } from './services.js';

export interface RequestContext {
  readonly req: RequestHead;
  readonly res: Reply;
  /** The client's own response, for a read that streams (run output); null for a forwarded request. */
  readonly stream: ServerResponse | null;
  /** Aborts when the client hung up before its answer (for a forwarded request: the sender's client); made when first asked for. */
  gone(): AbortSignal;
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
  /**
   * The handler's one effect is a single proposal, so a NOT_LEADER, NO_LEADER or
   * PROPOSAL_DROPPED from it means the write did not run: the server then takes the request
   * to the new leader instead of answering the error.
   */
  readonly reroutable?: boolean;
  /** How long the handler may hold its answer (a long-poll): a forwarded request's deadline grows by it. */
  readonly holdsMsMax?: number;
  readonly handle: (ctx: RequestContext) => Promise<void>;
}

const AUDIT_PATH_CHARS_MAX = 1024;
const AUDIT_TARGET_CHARS_MAX = 256;
const AUDIT_ACTOR_CHARS_MAX = 64;

export interface ApiOptions {
  readonly logger: Logger;
  readonly observer?: RequestObserver;
  /** How long a write waits for a reachable leader before answering 503. */
  readonly leaderWaitMs?: number;
  /** Writes waiting for a leader at once; beyond, 503 at once. */
  readonly heldWritesMax?: number;
  readonly forward?: Partial<ForwardLimits>;
  /** Marks the start and the end of each request, for a trace of one write (CHIME_TRACE). */
  readonly trace?: (stage: 'received' | 'answered') => void;
  /** Serve HTTPS only with this certificate and key (PEM); absent: plain HTTP. */
  readonly tls?: ApiTls;
  /** Requests in flight at once per connection and per token; beyond, 429 (default src/access's). */
  readonly inFlight?: { readonly connection: number; readonly token: number };
}

export interface ApiTls {
  readonly cert: string | Buffer;
  readonly key: string | Buffer;
}

interface CompiledRoute {
  readonly route: Route;
  readonly pattern: RegExp;
  readonly names: readonly string[];
}

/** One request as the server runs it, whether a client sent it here or a peer forwarded it. */
interface Incoming {
  readonly head: RequestHead;
  readonly method: string;
  readonly url: URL;
  /** The body's bytes, read (once) when first asked for. */
  rawBody(): Promise<Buffer>;
  /** Sent by another node, which takes it elsewhere if it does not run here. */
  readonly forwarded: boolean;
  /** The client's request, when a client sent it here (null when a peer forwarded it). */
  readonly raw: IncomingMessage | null;
  /** Aborts when the client hung up before its answer; made when first asked for. */
  gone(): AbortSignal;
  /** A forwarded write's id and, on a re-send, where its first try lies beyond (null, null: name one here if the route takes one). */
  readonly writeId: string | null;
  readonly retrySince: number | null;
}

/** What became of one request: answered here, handed back unrun, or (forwarded, with a write id) its outcome lost. */
type RunOutcome = 'answered' | 'notRun' | 'lost';

const LEADER_WAIT_MS_DEFAULT = 3000;
const HELD_WRITES_MAX_DEFAULT = 4096;
/** A draining node stops once no request came for this long (clients took their 503s elsewhere). */
const DRAIN_QUIET_MS = 50;
/** A held write looks again this often whether the leader became known and reachable. */
const LEADER_POLL_MS = 10;
/** Refusals that mean a write did not run because leadership is moving (a retry is safe). */
const NOT_RUN_CODES = ['NOT_LEADER', 'NO_LEADER', 'PROPOSAL_DROPPED', 'TRANSFER_IN_PROGRESS'] as const;
/** A proposal this node made whose outcome it will not learn: with a write id, a re-send is safe (write-ids.ts). */
const LOST_CODES = ['LEADERSHIP_LOST', 'TIMEOUT'] as const;
/** Re-sends of one write after lost outcomes, at most: each waits for a new leader, so a few cover any failover. */
const RESENDS_MAX = 3;

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
  private channel: ForwardChannel | null = null;
  private link: (ForwardLink & { reachable(peer: string): boolean }) | null = null;
  /** Writes waiting for a reachable leader, woken by leaderChanged() or the next poll. */
  private readonly held = new Set<() => void>();
  private readonly inFlight: InFlightLimiter<'connection' | 'token'>;
  /** Bearer headers this node accepted lately, so a client's token is parsed and hashed once, not per request. */
  private readonly credentials = new CredentialMemo();
  /** A number per connection, the in-flight limiter's key (a socket is not a string). */
  private readonly connectionIds = new WeakMap<object, string>();
  private nextConnectionId = 1;
  /** Write ids are this server's random prefix and a counter: unique across nodes and restarts without coordination. */
  private readonly writeIdPrefix = randomBytes(8).toString('hex');
  private writeSeq = 0;
  /** Stopping: requests from clients are refused (not run); forwarded ones still come back unrun. */
  private draining = false;
  /** Requests being answered now, and when the last one arrived (for drain). */
  private running = 0;
  private lastRequestMs = 0;

  constructor(options: ApiOptions) {
    this.options = options;
    this.inFlight = new InFlightLimiter(options.inFlight ?? DEFAULT_IN_FLIGHT_LIMITS);
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

  /**
   * Starts answering with `routes`; every request passes `access` first (throws on a route
   * table that breaks declareRoutes' rules). Writes reaching this node while another leads
   * travel to the leader through `link` (the peer transport), and the wiring hands frames of
   * the forward channel to `receiveForward`.
   */
  serve(gate: LeaderGate, routes: readonly Route[], link: ForwardLink & { reachable(peer: string): boolean }, access: AccessControl): void {
    this.compiled = declareRoutes(routes).map(compile);
    this.access = access;
    this.gate = gate;
    this.link = link;
    this.channel = new ForwardChannel(link, (from, request, gone) => this.serveForwarded(request, gone), { ...DEFAULT_FORWARD_LIMITS, ...this.options.forward });
  }

  /** Replaces the certificate and key for new connections (SIGHUP); throws, keeping the old ones, when they are unusable. */
  reloadTls(tls: ApiTls): void {
    if (this.https === null) throw new Error('this API serves plain HTTP: start it with --tls-cert/--tls-key to reload certificates');
    this.https.setSecureContext({ cert: tls.cert, key: tls.key, minVersion: 'TLSv1.2' });
  }

  /** A frame of the forward channel from an authenticated peer (checked by parseForwardFrame). */
  receiveForward(from: string, frame: ForwardFrame): void {
    this.channel?.receive(from, frame);
  }

  /** The connection to `peer` broke: writes it was running for us have an unknown outcome. */
  peerLost(peer: string): void {
    this.channel?.peerLost(peer);
  }

  /** A connection `peer` opened to this node closed: answers it had queued for us are gone. */
  answersLost(peer: string): void {
    this.channel?.answersLost(peer);
  }

  /** The node saw the leader change: held writes look again at once. */
  leaderChanged(): void {
    for (const wake of [...this.held]) wake();
  }

  /** Counters of the forward channel, for metrics. */
  forwardStats(): Readonly<Record<string, number>> {
    return { ...(this.channel?.stats ?? {}), held: this.held.size };
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

  /**
   * Before stopping: new requests are refused with 503 SHUTTING_DOWN and `connection: close`
   * (they did not run, so a client may send them elsewhere), and this waits, up to
   * `deadlineMs`, until every request already taken (writes held or sent to the leader
   * included) is answered and none came for a moment — so that closing the connections
   * afterwards cuts no request off and leaves no client with an unknown outcome.
   */
  async drain(deadlineMs: number): Promise<void> {
    this.draining = true;
    const untilMs = performance.now() + deadlineMs;
    const busy = (): boolean => this.running > 0 || performance.now() - this.lastRequestMs < DRAIN_QUIET_MS;
    const startedMs = performance.now();
    while (busy() && performance.now() < untilMs) await new Promise((resolve) => setTimeout(resolve, LEADER_POLL_MS));
    this.options.logger.info('drained', { ms: Math.round(performance.now() - startedMs), running: this.running, forwarding: this.channel?.stats.inFlight ?? 0, held: this.held.size });
  }

  async close(): Promise<void> {
    this.channel?.close();
    await new Promise<void>((resolve) => {
      this.server.close(() => resolve());
      this.server.closeAllConnections();
    });
  }

  private async dispatch(req: IncomingMessage, res: ServerResponse): Promise<void> {
    let raw: Promise<Buffer> | null = null;
    // Made when first asked for (a long-poll, a forward that holds): most requests never do.
    let gone: AbortController | null = null;
    let hungUp = false;
    const onClose = (): void => {
      if (res.writableFinished) return;
      hungUp = true;
      gone?.abort();
    };
    res.once('close', onClose);
    // Functions, not getters: with an accessor in this literal, the request it points to
    // outlived young collections (V8 makes such a literal on its slow path): ~2.5 KB per
    // request survived each scavenge, against ~0.2 KB without (--trace-gc-nvp, GET /v1/health).
    const incoming: Incoming = {
      head: req, method: req.method ?? 'GET', url: new URL(req.url ?? '/', 'http://local'), rawBody: () => (raw ??= readBodyBytes(req)), forwarded: false, raw: req,
      gone: () => {
        if (gone === null) {
          gone = new AbortController();
          if (hungUp) gone.abort();
        }
        return gone.signal;
      },
      writeId: null, retrySince: null,
    };
    try {
      await this.run(incoming, res, res);
    } finally {
      if (res.writableFinished) res.off('close', onClose);
    }
  }

  /** A write another node forwarded: run here if this node leads, else hand it back as not run. */
  private async serveForwarded(request: ForwardRequest, gone: AbortSignal): Promise<ForwardAnswer> {
    const body = Buffer.from(request.body.buffer, request.body.byteOffset, request.body.byteLength);
    const reply = new BufferedReply();
    const incoming: Incoming = {
      head: { method: request.method, headers: request.headers }, method: request.method, url: new URL(request.path, 'http://local'),
      rawBody: () => Promise.resolve(body), forwarded: true, raw: null, gone: () => gone, writeId: request.writeId, retrySince: request.retrySince,
    };
    const outcome = await this.run(incoming, reply);
    if (outcome === 'notRun') return { id: request.id, notRun: true };
    if (outcome === 'lost') return { id: request.id, lost: true };
    if (!reply.done) {
      // The route failed after it began its answer; the client must not take half of it as whole.
      reply.writeHead(500, { 'content-type': 'application/problem+json' }).end(JSON.stringify({ type: 'https://chime.dev/problems/internal', title: 'Internal Server Error', status: 500, detail: 'the answer broke off on the leader', code: 'INTERNAL' }));
    }
    return { id: request.id, notRun: false, ...reply.answer() };
  }

  /**
   * Answers one request, or (forwarded here) hands it back: `notRun` when it did not run
   * (the sender takes it elsewhere), `lost` when it carries a write id and its outcome is
   * unknown here (the sender re-sends it as a retry).
   */
  private async run(incoming: Incoming, reply: Reply, stream: ServerResponse | null = null): Promise<RunOutcome> {
    this.options.trace?.('received');
    const startedMs = performance.now();
    this.running += 1;
    this.lastRequestMs = startedMs;
    let routeName = 'unmatched';
    try {
      const gate = this.gate;
      const access = this.access;
      if (gate === null || access === null) throw new ChimeError('STARTING', 'the node is starting');
      if (this.draining && !incoming.forwarded) {
        // Read the body first: closing a connection with unread bytes resets it, and the
        // client would lose the answer that says the request did not run.
        await incoming.rawBody().catch(() => undefined);
        reply.setHeader('connection', 'close');
        throw new ChimeError('SHUTTING_DOWN', 'this node is stopping; the request did not run here — send it to another node');
      }
      const { url } = incoming;
      const match = this.match(incoming.method, url.pathname);
      if (match === null) throw new ChimeError('ROUTE_NOT_FOUND', `no route for ${incoming.method} ${url.pathname}`);
      if ('allowed' in match) {
        reply.setHeader('allow', match.allowed.join(', '));
        throw new ChimeError('METHOD_NOT_ALLOWED', `${url.pathname} allows ${match.allowed.join(', ')}`);
      }
      const route = match.route;
      routeName = `${route.method} ${route.path}`;
      // Every request is checked here, before any of its body is read, on every node: a
      // follower checks before it forwards, and the leader checks the same credentials again.
      const principal = await this.check(access, gate, incoming, route, reply);
      if (incoming.raw !== null && stream !== null) this.admit(incoming.raw, stream, principal);
      let untilMs = performance.now() + (this.options.leaderWaitMs ?? LEADER_WAIT_MS_DEFAULT);
      // A write that is one proposal is named once, here or by the node that forwarded it, so
      // that it can be re-sent after a lost outcome and still take effect once (write-ids.ts).
      const writeId = route.write && route.reroutable === true ? incoming.writeId ?? this.nextWriteId() : null;
      // Whatever entry the first try makes lies beyond what this node has applied now.
      const firstSince = gate.appliedIndex();
      let retrySince = incoming.retrySince;
      let resends = 0;
      const audit = (target: string | null): AuditRecord => ({
        at: access.nowMs(), actor: principal.name.slice(0, AUDIT_ACTOR_CHARS_MAX), method: route.method, path: url.pathname.slice(0, AUDIT_PATH_CHARS_MAX),
        target: target === null ? null : target.slice(0, AUDIT_TARGET_CHARS_MAX), ...(writeId === null ? {} : { writeId }), ...(retrySince === null ? {} : { retrySince }),
      });
      /** After a lost outcome: whether to send the write again (as a retry), waiting for the next leader. */
      const resend = (): boolean => {
        if (writeId === null || resends >= RESENDS_MAX) return false;
        resends += 1;
        retrySince ??= firstSince;
        untilMs = Math.max(untilMs, performance.now() + (this.options.leaderWaitMs ?? LEADER_WAIT_MS_DEFAULT));
        return true;
      };
      let bodyRead: Promise<unknown> | null = null;
      const ctx: RequestContext = {
        req: incoming.head, res: reply, stream, gone: incoming.gone, url, params: match.params, principal, audit,
        body: () => (bodyRead ??= incoming.rawBody().then((bytes) => parseJsonBody(bytes, incoming.head.headers['content-type']))),
      };
      if (!route.write) {
        await route.handle(ctx);
        return 'answered';
      }
      // One write goes to whichever node leads until one runs it, held (bounded) meanwhile.
      for (;;) {
        if (!gate.isLeader()) {
          // A forwarded write runs only on the leader; its sender knows whom to ask next.
          if (incoming.forwarded) return 'notRun';
          const forwarded = await this.forward(gate, incoming, reply, untilMs, route.holdsMsMax ?? 0, writeId, retrySince);
          if (forwarded === 'answered') return 'answered';
          if (forwarded === 'lost' && !resend()) throw new ChimeError('OUTCOME_UNKNOWN', `the leader went away before it answered, ${RESENDS_MAX} times; the write may or may not have taken effect — retry`);
          if (gate.isLeader()) continue;
        } else {
          try {
            await route.handle(ctx);
            return 'answered';
          } catch (error) {
            if (route.reroutable !== true || reply.headersSent) throw error;
            if (isChimeError(error, ...LOST_CODES) && writeId !== null) {
              // Proposed here, then leadership moved before it applied: the next leader gets
              // it again as a retry, which takes effect only if this one did not.
              if (incoming.forwarded) return 'lost';
              if (!resend()) throw error;
            } else {
              if (!isChimeError(error, ...NOT_RUN_CODES)) throw error;
              // Not run, and leadership is moving: the next leader gets it.
              if (incoming.forwarded) return 'notRun';
              if (performance.now() >= untilMs) throw error;
            }
          }
        }
        await this.hold(gate, untilMs);
      }
    } catch (error) {
      const problem = asChimeError(error);
      if (problem.code === 'INTERNAL') this.options.logger.error('request failed', { route: routeName, error: String(error) });
      // A refusal before the body was read (access, size): a bounded rest is read and dropped
      // so that a client still writing gets to read the answer, then the connection closes.
      const raw = incoming.raw;
      if (raw !== null && !raw.complete && !reply.headersSent) {
        reply.setHeader('connection', 'close');
        await discardBody(raw);
      }
      this.answerProblem(reply, problem);
      return 'answered';
    } finally {
      // A forwarded write handed back unrun was not answered here.
      if (reply.headersSent) this.options.observer?.answered(routeName, reply.statusCode, (performance.now() - startedMs) / 1000);
      this.options.trace?.('answered');
      this.running -= 1;
    }
  }

  /**
   * The access check (src/access's authorize) of one request, or the refusal thrown as a
   * ChimeError with its status (and WWW-Authenticate on 401). An unready registry is first
   * given a bounded chance to become ready; a token unknown here may be one just created and
   * not yet applied on this node, so after a catch-up it is tried once more.
   */
  private async check(access: AccessControl, gate: LeaderGate, incoming: Incoming, route: Route, reply: Reply): Promise<Principal> {
    if (route.permission !== 'public' && !access.isReady()) await access.becomeReady();
    const headers = incoming.head.headers;
    const decide = (): AccessDecision => authorize({
      method: incoming.method, permission: route.permission, authorizationHeader: headers.authorization, url: incoming.url.pathname + incoming.url.search,
      origin: headers.origin, host: headers.host, nodeOrigins: access.nodeOrigins(), metricsOpen: access.metricsOpen, registryReady: access.isReady(),
    }, access.tokens(), access.nowMs(), this.credentials);
    let decision = decide();
    if (!decision.ok && decision.code === 'TOKEN_INVALID' && !gate.isLeader() && await access.catchUp()) decision = decide();
    if (decision.ok) return decision.principal;
    this.options.observer?.refused?.(decision.code);
    if (decision.wwwAuthenticate !== undefined) reply.setHeader('www-authenticate', decision.wwwAuthenticate);
    throw new ChimeError(decision.code, decision.detail);
  }

  /**
   * Bounds what one connection and one token have in flight (429 beyond), so a single
   * client cannot hold every slot of the node (long waits included). Released when the
   * answer is finished or the connection closes. Anonymous callers (a cluster without tokens,
   * public routes) are bounded per connection only. Forwarded requests were admitted by the
   * node their client reached, and the forward channel bounds them per peer.
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

  private answerProblem(res: Reply, problem: ChimeError): void {
    if (res.headersSent) {
      res.destroy();
      return;
    }
    if (problem.code === 'BODY_TOO_LARGE') res.setHeader('connection', 'close');
    sendProblem(res, problem);
  }

  private nextWriteId(): string {
    this.writeSeq += 1;
    return `${this.writeIdPrefix}.${this.writeSeq.toString(36)}`;
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

  /**
   * Holds a write until the next leader change or poll, bounded in time (`untilMs`) and in
   * the number held at once: writes arriving during an election wait here rather than fail.
   */
  private hold(gate: LeaderGate, untilMs: number): Promise<void> {
    if (performance.now() >= untilMs) return Promise.reject(new ChimeError('NO_LEADER', 'no leader is reachable right now; retry shortly', { leader: gate.leader() }));
    const heldMax = this.options.heldWritesMax ?? HELD_WRITES_MAX_DEFAULT;
    if (this.held.size >= heldMax) return Promise.reject(new ChimeError('NO_LEADER', `no leader is reachable right now and ${heldMax} writes already wait for one; retry shortly`, { leader: gate.leader() }));
    return new Promise((resolve) => {
      const wake = (): void => {
        clearTimeout(timer);
        this.held.delete(wake);
        resolve();
      };
      const timer = setTimeout(wake, LEADER_POLL_MS);
      this.held.add(wake);
    });
  }

  /** This node (null) once it leads, or the leader's id once it is known and reachable; held until then. */
  private async reachableLeader(gate: LeaderGate, untilMs: number): Promise<string | null> {
    for (;;) {
      if (gate.isLeader()) return null;
      const leader = gate.leader();
      if (leader !== null && this.link?.reachable(leader) === true) return leader;
      await this.hold(gate, untilMs);
    }
  }

  /**
   * Takes a write to the leader over the forward channel and relays its answer (`answered`);
   * `notRun` when it did not run there or this node became the leader meanwhile, `lost` when
   * it carries a write id and its outcome there is unknown (the caller goes on either way).
   */
  private async forward(gate: LeaderGate, incoming: Incoming, reply: Reply, untilMs: number, holdsMs: number, writeId: string | null, retrySince: number | null): Promise<'answered' | 'notRun' | 'lost'> {
    const channel = this.channel;
    if (channel === null) throw new ChimeError('STARTING', 'the node is starting');
    const leader = await this.reachableLeader(gate, untilMs);
    if (leader === null) return 'notRun';
    const method = forwardMethod(incoming.method);
    const headers = forwardedRequestHeaders(incoming.head.headers);
    // The leader sees the Host a direct request to it would carry.
    const host = gate.leaderHttp();
    if (host !== null) headers['host'] = host;
    const body = await incoming.rawBody();
    // A manual run's `?wait=` holds the answer on the leader that long (invalid: the leader says so).
    const waitMs = parseWait(incoming.url.searchParams.get('wait') ?? '') ?? 0;
    const extraMs = Math.min(Math.max(waitMs, holdsMs), WAIT_MS_MAX);
    // A client hanging up ends a held answer on the leader (a long-poll); a plain write runs
    // to its end either way, so it needs no signal.
    const outcome = await channel.forward(leader, { method, path: incoming.url.pathname + incoming.url.search, headers, body, writeId, retrySince }, extraMs, extraMs > 0 ? incoming.gone() : undefined);
    if (outcome.kind !== 'answered') return outcome.kind;
    reply.writeHead(outcome.status, outcome.headers).end(outcome.body);
    return 'answered';
  }
}

function forwardMethod(method: string): ForwardMethod {
  switch (method) {
    case 'POST':
    case 'PUT':
    case 'DELETE':
    case 'PATCH':
      return method;
    default:
      throw new ChimeError('METHOD_NOT_ALLOWED', `${method} is not a write`);
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

export function splitHostPort(address: string): [string, number] {
  const at = address.lastIndexOf(':');
  const host = address.slice(0, at).replace(/^\[|\]$/g, '');
  return [host, Number(address.slice(at + 1))];
}
