import { errorText, type RunHandle, type RunHooks } from './run-handle.js';
import { placeholderValues, substitute, type RunIdentity } from './placeholders.js';
import { TailBuffer } from './tail-buffer.js';
import type { HttpSpec } from './types.js';

export interface HttpRunContext {
  readonly spec: HttpSpec;
  readonly identity: RunIdentity;
  readonly outputBytesMax: number;
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
 * One HTTP call with global fetch. The body is streamed through a tail buffer, so memory stays
 * bounded by the output cap, and reading stops after `bodyReadBytesMax` bytes.
 */
export class HttpRun implements RunHandle {
  private readonly controller = new AbortController();
  private statusLine = '';
  private tail: TailBuffer | null = null;
  private bodyCutAtBytes: number | null = null;

  constructor(private readonly context: HttpRunContext, private readonly hooks: RunHooks) {}

  start(): void {
    this.hooks.started();
    this.call().then(
      (status) => this.hooks.finished(this.outcome(status, null)),
      (error: unknown) => this.hooks.finished(this.outcome(null, errorText(error))),
    );
  }

  terminate(): void {
    this.controller.abort();
  }

  private async call(): Promise<number> {
    const { spec, identity } = this.context;
    const parts = httpRequestParts(spec, identity);
    const init: RequestInit = { method: spec.method, headers: parts.headers, signal: this.controller.signal, redirect: 'follow' };
    if (parts.body.length > 0) init.body = parts.body;
    const response = await fetch(parts.url, init);
    this.statusLine = `HTTP ${response.status} ${response.statusText}\n`;
    this.tail = new TailBuffer(Math.max(0, this.context.outputBytesMax - Buffer.byteLength(this.statusLine)));
    if (response.body !== null) await this.readBody(response.body, this.tail);
    return response.status;
  }

  private async readBody(body: ReadableStream<Uint8Array>, tail: TailBuffer): Promise<void> {
    const reader = body.getReader();
    for (;;) {
      const { done, value } = await reader.read();
      if (done) return;
      tail.push(Buffer.from(value.buffer, value.byteOffset, value.byteLength));
      if (tail.totalBytes >= this.context.bodyReadBytesMax) {
        this.bodyCutAtBytes = tail.totalBytes;
        await reader.cancel().catch(() => undefined);
        return;
      }
    }
  }

  private outcome(status: number | null, error: string | null): Parameters<RunHooks['finished']>[0] {
    const [lo, hi] = this.context.spec.expectStatus;
    const tail = this.tail?.render(this.statusLine) ?? { text: this.statusLine, truncated: false };
    const cut = this.bodyCutAtBytes === null ? '' : `\n…[stopped reading the body after ${this.bodyCutAtBytes} bytes]`;
    const ok = error === null && status !== null && status >= lo && status <= hi;
    let reason = error;
    if (reason === null && !ok) reason = `status ${status ?? '?'} outside expected ${lo}..${hi}`;
    return { ok, exitCode: null, output: tail.text + cut, outputTruncated: tail.truncated || this.bodyCutAtBytes !== null, error: reason };
  }
}
