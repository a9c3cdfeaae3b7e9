// What travels on the peer channel that carries client writes from a follower to the leader:
// batches of requests one way, batches of answers the other, each matched by a request id.
// Bodies travel as the bytes the client sent and the leader wrote (msgpack binary), never
// parsed or re-serialized on the way. A peer's frame is checked field by field here, before
// anything of it reaches the server.
import { WRITE_ID_PATTERN } from '../access/index.js';
import { MAX_BODY_BYTES } from './body.js';
import { isMap } from '../guards/index.js';

/** Headers carried with one forwarded request (the caller's identity and content type, see src/access). */
export const FORWARD_HEADERS_MAX = 16;
export const FORWARD_HEADER_CHARS_MAX = 8192;
/** Requests or answers in one frame: a frame stays well under the transport's 8 MiB limit. */
export const FORWARD_BATCH_ITEMS_MAX = 256;
export const FORWARD_BATCH_BYTES_MAX = 4 << 20;
const PATH_CHARS_MAX = 8192;
const METHODS = ['POST', 'PUT', 'DELETE', 'PATCH'] as const;
export type ForwardMethod = (typeof METHODS)[number];

export interface ForwardRequest {
  /** Chosen by the sender, unique among its requests in flight. */
  readonly id: number;
  readonly method: ForwardMethod;
  /** Path and query, as the client sent them. */
  readonly path: string;
  readonly headers: Readonly<Record<string, string>>;
  readonly body: Uint8Array;
  /**
   * The write's id, named by the node the client reached (null for a write that is not one
   * proposal), and on a re-send after the first try's outcome was lost, the index the first
   * try's entry lies beyond (null on a first try): the job table takes a write id once
   * (src/statemachine/write-ids.ts).
   */
  readonly writeId: string | null;
  readonly retrySince: number | null;
}

/**
 * The leader's answer: the HTTP answer to relay, or `notRun` when the receiver did not run
 * the request (it is not the leader, or its proposal was overwritten before it committed)
 * so that the sender can take it to the leader it knows now without any doubt about its
 * outcome.
 */
export type ForwardAnswer =
  | { readonly id: number; readonly notRun: false; readonly status: number; readonly headers: Readonly<Record<string, string>>; readonly body: Uint8Array }
  | { readonly id: number; readonly notRun: true }
  /**
   * The receiver proposed the write and then lost leadership (or the wait) before it applied:
   * it may or may not take effect. Only a write with a write id is answered so; its sender
   * re-sends it as a retry, which the job table takes only if the first did not take effect.
   */
  | { readonly id: number; readonly lost: true };

export type ForwardFrame =
  | { readonly kind: 'requests'; readonly items: readonly ForwardRequest[] }
  | { readonly kind: 'answers'; readonly items: readonly ForwardAnswer[] }
  /** Ids of requests whose clients hung up: a long-poll running for them ends (a write already proposed still commits). */
  | { readonly kind: 'cancels'; readonly items: readonly number[] };

function isId(value: unknown): value is number {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 0;
}

function isMethod(value: unknown): value is ForwardMethod {
  return METHODS.some((m) => m === value);
}

function headersOf(value: unknown): Record<string, string> | null {
  if (!isMap(value)) return null;
  const entries = Object.entries(value);
  if (entries.length > FORWARD_HEADERS_MAX) return null;
  const out: Record<string, string> = {};
  for (const [name, text] of entries) {
    if (typeof text !== 'string' || text.length > FORWARD_HEADER_CHARS_MAX || !/^[a-z0-9-]{1,64}$/.test(name)) return null;
    out[name] = text;
  }
  return out;
}

/** msgpackr decodes binary as a Buffer; anything else is not a body. */
function bodyOf(value: unknown): Uint8Array | null {
  return value instanceof Uint8Array && value.length <= MAX_BODY_BYTES + FORWARD_HEADER_CHARS_MAX ? value : null;
}

function requestOf(value: unknown): ForwardRequest | null {
  if (!isMap(value)) return null;
  const { id, method, path } = value;
  const headers = headersOf(value['headers']);
  const body = bodyOf(value['body']);
  if (!isId(id) || !isMethod(method) || typeof path !== 'string' || !path.startsWith('/') || path.length > PATH_CHARS_MAX || headers === null || body === null) return null;
  const { writeId, retrySince } = value;
  if (writeId !== null && (typeof writeId !== 'string' || !WRITE_ID_PATTERN.test(writeId))) return null;
  if (retrySince !== null && (!isId(retrySince) || writeId === null)) return null;
  return { id, method, path, headers, body, writeId, retrySince };
}

function answerOf(value: unknown): ForwardAnswer | null {
  if (!isMap(value)) return null;
  const { id, notRun, status } = value;
  if (!isId(id)) return null;
  if (value['lost'] === true) return { id, lost: true };
  if (notRun === true) return { id, notRun: true };
  const headers = headersOf(value['headers']);
  const body = bodyOf(value['body']);
  if (notRun !== false || typeof status !== 'number' || !Number.isInteger(status) || status < 100 || status > 599 || headers === null || body === null) return null;
  return { id, notRun: false, status, headers, body };
}

/** A peer's frame on the forward channel, or null when any part of it is not ours. */
export function parseForwardFrame(value: unknown): ForwardFrame | null {
  if (!isMap(value)) return null;
  const { kind, items } = value;
  if (!Array.isArray(items) || items.length > FORWARD_BATCH_ITEMS_MAX) return null;
  if (kind === 'requests') {
    const requests: ForwardRequest[] = [];
    for (const item of items) {
      const request = requestOf(item);
      if (request === null) return null;
      requests.push(request);
    }
    return { kind, items: requests };
  }
  if (kind === 'answers') {
    const answers: ForwardAnswer[] = [];
    for (const item of items) {
      const answer = answerOf(item);
      if (answer === null) return null;
      answers.push(answer);
    }
    return { kind, items: answers };
  }
  if (kind === 'cancels') {
    const ids: number[] = [];
    for (const item of items) {
      if (!isId(item)) return null;
      ids.push(item);
    }
    return { kind, items: ids };
  }
  return null;
}

/** Bytes an item adds to a frame, roughly: its body and headers. */
export function forwardItemBytes(item: ForwardRequest | ForwardAnswer): number {
  if ('lost' in item || ('notRun' in item && item.notRun)) return 16;
  let bytes = 64 + item.body.length;
  for (const [name, value] of Object.entries(item.headers)) bytes += name.length + value.length;
  return bytes;
}
