import { httpCall, type HttpCall } from './http-client.js';
import type { OutputCapture } from './output-capture.js';
import { errorText, type RunHandle, type RunHooks } from './run-handle.js';
import { placeholderValues, substitute, type RunIdentity } from './placeholders.js';
import type { HttpSpec } from './types.js';

export interface HttpRunContext {
  readonly spec: HttpSpec;
  readonly identity: RunIdentity;
  readonly bodyReadBytesMax: number;
}

export interface HttpRequestParts {
  readonly url: string;
  readonly headers: Record<string, string>;
  readonly body: string;
}

/** Placeholders in url (values URI-encoded), header values and body (values as they are). */
export function httpRequestParts(spec: HttpSpec, identity: RunIdentity): HttpRequestParts {
  const values = placeholderValues(identity);
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(spec.headers)) headers[name] = substitute(value, values);
  return { url: substitute(spec.url, values, encodeURIComponent), headers, body: substitute(spec.body, values) };
}

/**
 * One HTTP call (http-client.ts). The status line and the body go through the run's output
 * capture (stdout: masked, into the tail and the store), so memory stays bounded by the
 * output cap and the store's queue (the body is paused while that is full), and reading
 * stops after `bodyReadBytesMax` bytes.
 */
export class HttpRun implements RunHandle {
  private call: HttpCall | null = null;
  private capture: OutputCapture | null = null;
  private status: number | null = null;
  private bodyReadBytes = 0;
  private bodyCutAtBytes: number | null = null;
  private terminated = false;
  private discarded = false;
  private sentEarly = false;

  constructor(private readonly context: HttpRunContext, private readonly hooks: RunHooks) {}

  /**
   * Builds the request and takes a connection for it, sending nothing: a run waiting for its
   * instant calls this ahead, so that start() at the instant is one socket write.
   */
  prepare(): void {
    if (this.call !== null || this.terminated) return;
    const { spec, identity } = this.context;
    const parts = httpRequestParts(spec, identity);
    this.call = httpCall({ method: spec.method, url: parts.url, headers: parts.headers, body: parts.body }, {
      onStatus: (status, statusText) => {
        this.status = status;
        this.capture?.setPrefix(`HTTP ${status} ${statusText}\n`);
      },
      onChunk: (chunk) => this.onChunk(chunk),
      onEnd: (error) => {
        if (!this.discarded) this.hooks.finished(this.outcome(error === null ? null : errorText(error)));
      },
    }, true);
  }

  /** The prepared request was sent by launch() ahead of start(). */
  get launched(): boolean {
    return this.sentEarly;
  }

  /**
   * Sends the prepared request now, before start() (a burst of one instant sends every
   * request first, then does each run's bookkeeping: StartWaves). Nothing of the response is
   * read before start(), which must follow in the same turn.
   */
  launch(): void {
    if (this.call === null || this.terminated) return;
    this.sentEarly = true;
    this.call.send();
  }

  /** Sends the request (unless launch() did); its output goes to `capture`. */
  start(capture: OutputCapture): void {
    this.capture = capture;
    capture.onDrain = () => this.call?.resumeBody();
    this.hooks.started();
    this.prepare();
    if (this.terminated) this.call?.abort('This operation was aborted');
    else this.call?.send();
  }

  terminate(): void {
    this.terminated = true;
    this.call?.abort('This operation was aborted');
  }

  /** A prepared run dropped before its start (killed while waiting): closes its connection; `finished` is not called. */
  discard(): void {
    this.discarded = true;
    this.terminated = true;
    this.call?.abort('discarded before its start');
  }

  private onChunk(chunk: Buffer): boolean {
    const capture = this.capture;
    if (capture === null) return false;
    this.bodyReadBytes += chunk.length;
    if (!capture.push('stdout', chunk)) this.call?.pauseBody();
    if (this.bodyReadBytes < this.context.bodyReadBytesMax) return true;
    this.bodyCutAtBytes = this.bodyReadBytes;
    return false;
  }

  private outcome(error: string | null): Parameters<RunHooks['finished']>[0] {
    const [lo, hi] = this.context.spec.expectStatus;
    const status = error === null ? this.status : null;
    const cut = this.bodyCutAtBytes === null ? '' : `\n…[stopped reading the body after ${this.bodyCutAtBytes} bytes]`;
    // A call that ended before its start (an invalid URL found while preparing) has no capture.
    const tail = this.capture?.finish(cut) ?? { text: cut, truncated: false };
    const ok = error === null && status !== null && status >= lo && status <= hi;
    let reason = error;
    if (reason === null && !ok) reason = `status ${status ?? '?'} outside expected ${lo}..${hi}`;
    return { ok, exitCode: null, output: tail.text, outputTruncated: tail.truncated || this.bodyCutAtBytes !== null, error: reason };
  }
}
