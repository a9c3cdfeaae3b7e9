// One HTTP exchange on node:http / node:https with keep-alive agents (bounded sockets),
// following redirects the way fetch does. Lighter than global fetch: no web streams, no
// AbortSignal, no Request/Response objects per call (fetch was ~10 % of an executor's CPU at
// a few hundred calls per second).
import http from 'node:http';
import https from 'node:https';

/**
 * Sockets per origin, all of which may stay open while idle: cron jobs fire in bursts (many
 * at the same second), and fewer idle sockets meant opening and closing hundreds per burst.
 * A prepared call (see HttpCall.send) holds its socket until it is sent.
 */
export const HTTP_SOCKETS_PER_ORIGIN_MAX = 512;
export const HTTP_FREE_SOCKETS_PER_ORIGIN_MAX = HTTP_SOCKETS_PER_ORIGIN_MAX;
/** Sockets over all origins; requests beyond wait in the agent's queue. */
export const HTTP_SOCKETS_TOTAL_MAX = 2048;
/** Redirects followed per call (fetch's limit). */
export const HTTP_REDIRECTS_MAX = 20;

const agentOptions = {
  keepAlive: true, maxSockets: HTTP_SOCKETS_PER_ORIGIN_MAX, maxFreeSockets: HTTP_FREE_SOCKETS_PER_ORIGIN_MAX,
  maxTotalSockets: HTTP_SOCKETS_TOTAL_MAX, scheduling: 'lifo',
} as const;
const httpAgent = new http.Agent(agentOptions);
const httpsAgent = new https.Agent(agentOptions);

const IDEMPOTENT = new Set(['GET', 'HEAD', 'PUT', 'DELETE', 'OPTIONS', 'TRACE']);

export interface HttpCallRequest {
  readonly method: string;
  readonly url: string;
  readonly headers: Readonly<Record<string, string>>;
  readonly body: string;
}

export interface HttpCallHandlers {
  /** The final (non-redirect) response's status arrived; body chunks follow. */
  onStatus(status: number, statusText: string): void;
  /** A body chunk; return false to stop reading (the connection is closed, the call succeeds). */
  onChunk(chunk: Buffer): boolean;
  /** Exactly once: null after the body ended (or reading stopped), else the error. */
  onEnd(error: Error | null): void;
}

/** A call; abort() ends it with an error (once; later calls do nothing). */
export interface HttpCall {
  /**
   * Sends a prepared call (see httpCall's `prepared`); does nothing once sent or ended. The
   * request was built and given a connection ahead, so sending is a single socket write:
   * what happens at the scheduled instant is as little as possible.
   */
  send(): void;
  abort(reason: string): void;
  /** Stops reading the response body until resumeBody (backpressure from the output store). */
  pauseBody(): void;
  resumeBody(): void;
}

type Target = { url: URL; method: string; headers: Record<string, string>; body: string };

/**
 * Starts a call, or with `prepared` builds the request and takes a connection for it without
 * sending anything until send(). A prepared request that fails or is closed before send() is
 * built again at send(): nothing of it reached the server, so that is always safe.
 */
export function httpCall(request: HttpCallRequest, handlers: HttpCallHandlers, prepared = false): HttpCall {
  return new Call(request, handlers, prepared);
}

type Held = { readonly req: http.ClientRequest | Error; readonly target: Target; dead: boolean };

class Call implements HttpCall {
  private ended = false;
  private current: http.ClientRequest | null = null;
  private redirects = 0;
  private held: Held | null = null;
  /** The final response whose body is being read. */
  private response: http.IncomingMessage | null = null;

  constructor(request: HttpCallRequest, private readonly handlers: HttpCallHandlers, prepared: boolean) {
    let url: URL;
    try {
      url = new URL(request.url);
    } catch {
      this.end(new Error(`invalid URL ${JSON.stringify(request.url.slice(0, 200))}`));
      return;
    }
    const first: Target = { url, method: request.method.toUpperCase(), headers: { ...request.headers }, body: request.body };
    if (!prepared) {
      this.sendTo(first, false);
      return;
    }
    const req = this.build(first);
    const held: Held = { req, target: first, dead: false };
    this.held = held;
    // Until it is sent, a failure only means it must be built again.
    if (!(req instanceof Error)) req.on('error', () => void (held.dead = true));
  }

  send(): void {
    const held = this.held;
    if (held === null || this.ended) return;
    this.held = null;
    const { req } = held;
    if (req instanceof Error || (!held.dead && !req.destroyed)) return this.sendTo(held.target, false, req);
    req.destroy();
    this.sendTo(held.target, false);
  }

  abort(reason: string): void {
    if (this.ended) return;
    this.end(new Error(reason));
    if (this.held !== null && !(this.held.req instanceof Error)) this.held.req.destroy();
    this.held = null;
    this.current?.destroy();
  }

  pauseBody(): void {
    if (!this.ended) this.response?.pause();
  }

  resumeBody(): void {
    if (!this.ended) this.response?.resume();
  }

  private end(error: Error | null): void {
    if (this.ended) return;
    this.ended = true;
    // Never from inside httpCall() or abort(): callers finish a run only after those return.
    queueMicrotask(() => this.handlers.onEnd(error));
  }

  /** The request, or why it cannot be made (invalid header values, bad URLs): a failed call, never an exception. */
  private build(target: Target): http.ClientRequest | Error {
    try {
      const headers: Record<string, string | number> = { ...target.headers };
      if (target.body.length > 0) {
        // fetch's defaults for a string body.
        if (!hasHeader(headers, 'content-type')) headers['content-type'] = 'text/plain;charset=UTF-8';
        headers['content-length'] = Buffer.byteLength(target.body);
      }
      const secure = target.url.protocol === 'https:';
      this.current = (secure ? https : http).request(target.url, { method: target.method, headers, agent: secure ? httpsAgent : httpAgent });
      return this.current;
    } catch (error) {
      return error instanceof Error ? error : new Error(String(error));
    }
  }

  private sendTo(target: Target, retried: boolean, req: http.ClientRequest | Error = this.build(target)): void {
    if (req instanceof Error) return this.end(req);
    let answered = false;
    req.on('error', (error) => {
      if (this.ended) return;
      // A kept-alive socket the server closed meanwhile: send once more on a fresh one when
      // that cannot repeat an effect (no answer came, the method is idempotent).
      if (!answered && !retried && req.reusedSocket && IDEMPOTENT.has(target.method) && 'code' in error && error.code === 'ECONNRESET') {
        return this.sendTo(target, true);
      }
      this.end(error);
    });
    req.on('response', (res) => {
      answered = true;
      this.onResponse(target, res);
    });
    req.end(target.body.length > 0 ? target.body : undefined);
  }

  private onResponse(target: Target, res: http.IncomingMessage): void {
    const status = res.statusCode ?? 0;
    const location = res.headers.location;
    if (isRedirect(status) && location !== undefined) {
      res.resume();
      if (this.redirects++ >= HTTP_REDIRECTS_MAX) return this.end(new Error(`more than ${HTTP_REDIRECTS_MAX} redirects`));
      let next: URL;
      try {
        next = new URL(location, target.url);
      } catch {
        return this.end(new Error(`redirect to an invalid location ${JSON.stringify(location.slice(0, 200))}`));
      }
      if (next.protocol !== 'http:' && next.protocol !== 'https:') return this.end(new Error(`redirect to a ${next.protocol} URL`));
      return this.sendTo(redirectTarget(target, status, next), false);
    }
    this.response = res;
    this.handlers.onStatus(status, res.statusMessage ?? '');
    res.on('data', (chunk: Buffer) => {
      if (this.ended || this.handlers.onChunk(chunk)) return;
      this.end(null);
      res.destroy();
    });
    res.on('end', () => this.end(null));
    res.on('error', (error) => this.end(error));
    // Closed before its end: the server or the network cut the body short.
    res.on('close', () => this.end(res.complete ? null : new Error('the response was cut off')));
  }
}

function isRedirect(status: number): boolean {
  return status === 301 || status === 302 || status === 303 || status === 307 || status === 308;
}

/** fetch's rules: 303 (and 301/302 after POST) become a GET without body; credentials stay on their origin. */
function redirectTarget(target: Target, status: number, next: URL): Target {
  const headers = { ...target.headers };
  let { method, body } = target;
  if ((status === 303 && method !== 'HEAD') || ((status === 301 || status === 302) && method === 'POST')) {
    method = 'GET';
    body = '';
    for (const name of Object.keys(headers)) if (/^content-/i.test(name)) delete headers[name];
  }
  if (next.origin !== target.url.origin) {
    for (const name of Object.keys(headers)) if (/^(authorization|cookie|proxy-authorization)$/i.test(name)) delete headers[name];
  }
  return { url: next, method, headers, body };
}

function hasHeader(headers: Readonly<Record<string, unknown>>, name: string): boolean {
  return Object.keys(headers).some((h) => h.toLowerCase() === name);
}
