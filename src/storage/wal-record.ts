import { crc32 } from 'node:zlib';
import { Packr } from 'msgpackr';
import type { Entry, HardState } from '../raft/index.js';
import { decodeEntryTuple, decodeHardStateTuple, encode, entryTuple, hardStateTuple, isRecord, type LogStart } from './codec.js';
import { ChimeError } from '../errors/index.js';
import { corrupt } from './errors.js';

/**
 * One write-ahead-log record: what one Ready (or one segment header) makes durable.
 * `start` opens a segment: the log continues after it, or, with `reset`, is replaced by a
 * snapshot and starts over after it.
 */
export interface WalRecord {
  readonly start?: LogStart & { readonly reset: boolean };
  readonly hardState?: HardState;
  readonly entries?: readonly Entry[];
}

/** Frame: u32 LE payload length, u32 LE CRC-32 of the payload, the msgpack payload. */
export const FRAME_HEADER_BYTES = 8;
/** A record never exceeds this; a longer length field is damage, not data. */
export const RECORD_BYTES_MAX = 256 << 20;

const packr = new Packr({ useRecords: false, mapsAsObjects: true });

export function encodeRecord(record: WalRecord): { header: Buffer; payload: Uint8Array } {
  const value: Record<string, unknown> = {};
  if (record.start !== undefined) value['s'] = [record.start.index, record.start.term, record.start.reset];
  if (record.hardState !== undefined) value['h'] = hardStateTuple(record.hardState);
  if (record.entries !== undefined && record.entries.length > 0) value['e'] = record.entries.map(entryTuple);
  const payload = encode(value);
  if (payload.length > RECORD_BYTES_MAX) throw new ChimeError('FAILED', `a log record of ${payload.length} bytes exceeds ${RECORD_BYTES_MAX}`);
  const header = Buffer.allocUnsafe(FRAME_HEADER_BYTES);
  header.writeUInt32LE(payload.length, 0);
  header.writeUInt32LE(crc32(payload), 4);
  return { header, payload };
}

export type FrameRead =
  | { readonly kind: 'record'; readonly record: WalRecord; readonly next: number }
  /** Zeros (preallocated space) or too few bytes: the log ends here. */
  | { readonly kind: 'end' }
  /** A length or checksum that does not hold: a torn or damaged write. */
  | { readonly kind: 'damaged'; readonly reason: string; readonly claimedEnd: number };

/** Reads the frame at `offset` of a segment's bytes. */
export function readFrame(bytes: Uint8Array, offset: number, what: string): FrameRead {
  if (offset + FRAME_HEADER_BYTES > bytes.length) return { kind: 'end' };
  const view = Buffer.from(bytes.buffer, bytes.byteOffset + offset, FRAME_HEADER_BYTES);
  const length = view.readUInt32LE(0);
  const checksum = view.readUInt32LE(4);
  if (length === 0 && checksum === 0) return { kind: 'end' };
  const start = offset + FRAME_HEADER_BYTES;
  if (length === 0 || length > RECORD_BYTES_MAX) return { kind: 'damaged', reason: `bad record length ${length}`, claimedEnd: start };
  if (start + length > bytes.length) return { kind: 'damaged', reason: `record of ${length} bytes runs past the end`, claimedEnd: start + length };
  const payload = bytes.subarray(start, start + length);
  if (crc32(payload) !== checksum) return { kind: 'damaged', reason: 'checksum mismatch', claimedEnd: start + length };
  return { kind: 'record', record: decodePayload(payload, `${what} at ${offset}`), next: start + length };
}


/** A record whose checksum holds but whose content does not parse is damage we refuse. */
function decodePayload(payload: Uint8Array, what: string): WalRecord {
  let value: unknown;
  try {
    value = packr.unpack(payload);
  } catch (error) {
    throw new ChimeError('CORRUPT', `${what} does not decode`, { cause: error });
  }
  if (!isRecord(value)) throw corrupt(`${what}: not a map`);
  const { s, h, e } = value;
  let record: { start?: LogStart & { reset: boolean }; hardState?: HardState; entries?: Entry[] } = {};
  if (s !== undefined) {
    if (!Array.isArray(s) || s.length !== 3 || !isCount(s[0]) || !isCount(s[1]) || typeof s[2] !== 'boolean') throw corrupt(`${what}: bad segment start`);
    record = { ...record, start: { index: s[0], term: s[1], reset: s[2] } };
  }
  if (h !== undefined) record = { ...record, hardState: decodeHardStateTuple(h, `${what} hard state`) };
  if (e !== undefined) {
    if (!Array.isArray(e)) throw corrupt(`${what}: entries are not a list`);
    record = { ...record, entries: e.map((tuple: unknown) => decodeEntryTuple(tuple, what)) };
  }
  return record;
}

function isCount(value: unknown): value is number {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 0;
}
