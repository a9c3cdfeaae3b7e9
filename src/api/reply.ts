// Where a route writes its answer: the client's HTTP response, or — for a write another node
// forwarded — a buffer whose status, headers and bytes travel back on the peer channel.
import type { IncomingHttpHeaders } from 'node:http';

/** What a route reads of its request besides the path and body: a Node request satisfies it. */
export interface RequestHead {
  readonly method?: string | undefined;
  readonly headers: IncomingHttpHeaders;
}

/** The part of a Node ServerResponse routes use. */
export interface Reply {
  readonly headersSent: boolean;
  /** The status written so far (200 until writeHead). */
  readonly statusCode: number;
  setHeader(name: string, value: string): unknown;
  writeHead(status: number, headers?: Readonly<Record<string, string>>): Reply;
  end(body?: string | Uint8Array): unknown;
  destroy(): unknown;
}

/** Headers of a forwarded write's answer that the receiving node relays to its client. */
export const RELAYED_ANSWER_HEADERS = ['content-type', 'retry-after', 'location', 'allow', 'www-authenticate'] as const;

/** A forwarded write's answer, kept until the route ends it. */
export class BufferedReply implements Reply {
  statusCode = 200;
  private headerSent = false;
  private readonly headers: Record<string, string> = {};
  private body: Uint8Array = new Uint8Array(0);
  private ended = false;

  get headersSent(): boolean {
    return this.headerSent;
  }

  get done(): boolean {
    return this.ended;
  }

  setHeader(name: string, value: string): this {
    this.headers[name.toLowerCase()] = value;
    return this;
  }

  writeHead(status: number, headers: Readonly<Record<string, string>> = {}): this {
    this.statusCode = status;
    for (const [name, value] of Object.entries(headers)) this.setHeader(name, value);
    this.headerSent = true;
    return this;
  }

  end(body?: string | Uint8Array): this {
    this.headerSent = true;
    if (body !== undefined) this.body = typeof body === 'string' ? Buffer.from(body) : body;
    this.ended = true;
    return this;
  }

  /** Nothing to break: an answer that cannot be finished is not sent (the sender times out). */
  destroy(): this {
    return this;
  }

  /** The relayed headers and the body, once ended. */
  answer(): { readonly status: number; readonly headers: Record<string, string>; readonly body: Uint8Array } {
    const headers: Record<string, string> = {};
    for (const name of RELAYED_ANSWER_HEADERS) {
      const value = this.headers[name];
      if (value !== undefined) headers[name] = value;
    }
    return { status: this.statusCode, headers, body: this.body };
  }
}
