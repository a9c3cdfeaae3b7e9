import type { ConfState, Entry, Message, NodeId, SnapshotMeta } from '../raft/index.js';
import { isMap, isOneOf } from '../guards/index.js';

/** Channels other than Raft; their bodies are validated by whoever handles the channel. */
export const APP_CHANNELS = ['exec', 'report', 'hello', 'forward'] as const;
export type AppChannel = (typeof APP_CHANNELS)[number];

export interface RaftEnvelope {
  readonly channel: 'raft';
  readonly message: Message;
}

export interface AppEnvelope {
  readonly channel: AppChannel;
  /** Plain msgpack-able data; unknown until the channel's handler has checked it. */
  readonly body: unknown;
}

/** What travels between nodes once the handshake is done. */
export type Envelope = RaftEnvelope | AppEnvelope;

export type Validated<T> = { readonly ok: true; readonly value: T } | { readonly ok: false; readonly reason: string };

const NODE_ID = /^[a-z0-9][a-z0-9-]{0,31}$/;
/** ReadIndex contexts are agent-made request ids; anything longer is not ours. */
const CONTEXT_CHARS_MAX = 1024;

export function isNodeId(value: unknown): value is NodeId {
  return typeof value === 'string' && NODE_ID.test(value);
}

function isCount(value: unknown): value is number {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 0;
}

function isBytes(value: unknown): value is Uint8Array {
  return value instanceof Uint8Array;
}

/** msgpackr decodes binary as a Buffer; the core's types say Uint8Array. */
function plainBytes(bytes: Uint8Array): Uint8Array {
  return bytes.constructor === Uint8Array ? bytes : new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

class Invalid extends Error {}

/** Throws Invalid unless `ok`; as an assertion signature it narrows what the check proved. */
function need(ok: boolean, what: string): asserts ok {
  if (!ok) throw new Invalid(what);
}

function record(value: unknown, what: string): Record<string, unknown> {
  need(isMap(value), `${what} is not a map`);
  return value;
}

function count(fields: Record<string, unknown>, name: string): number {
  const value = fields[name];
  need(isCount(value), `${name} is not a non-negative integer`);
  return value;
}

function bool(fields: Record<string, unknown>, name: string): boolean {
  const value = fields[name];
  need(typeof value === 'boolean', `${name} is not a boolean`);
  return value;
}

function nodeId(fields: Record<string, unknown>, name: string): NodeId {
  const value = fields[name];
  need(isNodeId(value), `${name} is not a node id`);
  return value;
}

function context(fields: Record<string, unknown>): string {
  const value = fields['context'];
  need(typeof value === 'string' && value.length <= CONTEXT_CHARS_MAX, 'context is not a short string');
  return value;
}

function entry(value: unknown): Entry {
  const fields = record(value, 'entry');
  const kind = fields['kind'];
  need(kind === 'normal' || kind === 'conf', 'entry kind is not normal or conf');
  const data = fields['data'];
  need(isBytes(data), 'entry data is not binary');
  return { index: count(fields, 'index'), term: count(fields, 'term'), kind, data: plainBytes(data) };
}

function isIdList(value: unknown): value is readonly NodeId[] {
  return Array.isArray(value) && value.every(isNodeId);
}

function idList(value: unknown, what: string): NodeId[] {
  need(isIdList(value), `${what} is not a list of node ids`);
  return [...value];
}

function snapshotMeta(value: unknown): SnapshotMeta {
  const fields = record(value, 'meta');
  const conf = record(fields['conf'], 'meta.conf');
  const confState: ConfState = { voters: idList(conf['voters'], 'voters'), learners: idList(conf['learners'], 'learners') };
  return { index: count(fields, 'index'), term: count(fields, 'term'), conf: confState };
}

/** Rebuilds a Raft message field by field, so nothing unchecked reaches the core. */
function raftMessage(value: unknown): Message {
  const f = record(value, 'message');
  const head = { from: nodeId(f, 'from'), to: nodeId(f, 'to'), term: count(f, 'term') };
  switch (f['type']) {
    case 'app': {
      const entries: unknown = f['entries'];
      need(Array.isArray(entries), 'entries is not a list');
      return { type: 'app', ...head, prevIndex: count(f, 'prevIndex'), prevTerm: count(f, 'prevTerm'), entries: entries.map(entry), commit: count(f, 'commit') };
    }
    case 'appResp':
      return { type: 'appResp', ...head, index: count(f, 'index'), reject: bool(f, 'reject'), hintIndex: count(f, 'hintIndex'), hintTerm: count(f, 'hintTerm') };
    case 'vote':
      return { type: 'vote', ...head, lastIndex: count(f, 'lastIndex'), lastTerm: count(f, 'lastTerm'), pre: bool(f, 'pre'), transfer: bool(f, 'transfer') };
    case 'voteResp':
      return { type: 'voteResp', ...head, pre: bool(f, 'pre'), reject: bool(f, 'reject') };
    case 'heartbeat':
      return { type: 'heartbeat', ...head, commit: count(f, 'commit'), readRound: count(f, 'readRound') };
    case 'heartbeatResp':
      return { type: 'heartbeatResp', ...head, readRound: count(f, 'readRound') };
    case 'snap': {
      const data = f['data'];
      need(isBytes(data), 'snapshot data is not binary');
      return { type: 'snap', ...head, meta: snapshotMeta(f['meta']), totalBytes: count(f, 'totalBytes'), offset: count(f, 'offset'), data: plainBytes(data), done: bool(f, 'done') };
    }
    case 'snapResp':
      return { type: 'snapResp', ...head, index: count(f, 'index'), receivedBytes: count(f, 'receivedBytes'), reject: bool(f, 'reject') };
    case 'timeoutNow':
      return { type: 'timeoutNow', ...head };
    case 'readIndex':
      return { type: 'readIndex', ...head, context: context(f) };
    case 'readIndexResp':
      return { type: 'readIndexResp', ...head, context: context(f), index: count(f, 'index') };
    default:
      throw new Invalid(`unknown message type ${JSON.stringify(String(f['type'])).slice(0, 40)}`);
  }
}

/** Checks a decoded payload is an envelope; Raft messages are checked field by field. */
export function validateEnvelope(value: unknown): Validated<Envelope> {
  try {
    const fields = record(value, 'envelope');
    const channel = fields['channel'];
    if (channel === 'raft') return { ok: true, value: { channel, message: raftMessage(fields['message']) } };
    if (isOneOf(APP_CHANNELS, channel)) {
      need('body' in fields, 'envelope has no body');
      return { ok: true, value: { channel, body: fields['body'] } };
    }
    return { ok: false, reason: 'unknown channel' };
  } catch (error) {
    if (error instanceof Invalid) return { ok: false, reason: error.message };
    throw error;
  }
}
