import { Packr } from 'msgpackr';
import type { ConfState, Entry, HardState, NodeId } from '../raft/index.js';
import { ChimeError } from '../errors/index.js';
import { corrupt } from './errors.js';

// Records (msgpackr's shared structures) would make a value depend on state kept elsewhere;
// plain maps and arrays keep every value self-describing.
const packr = new Packr({ useRecords: false, mapsAsObjects: true });

/** What the snapshot-meta key holds: the snapshot's place in the log and where its bytes are. */
export interface StoredSnapshotMeta {
  readonly index: number;
  readonly term: number;
  readonly conf: ConfState;
  readonly dataBytes: number;
  /** CRC-32 of the image. */
  readonly checksum: number;
  /** Names the image file; a new image gets a new generation. */
  readonly generation: number;
}

export interface LogStart {
  readonly index: number;
  readonly term: number;
}

export function encode(value: unknown): Uint8Array {
  return packr.pack(value);
}

function decode(bytes: Uint8Array, what: string): unknown {
  try {
    return packr.unpack(bytes);
  } catch (error) {
    throw new ChimeError('CORRUPT', `${what} does not decode`, { cause: error });
  }
}


/** A decoded msgpack map (or any object): every field is unknown until checked. */
export function isRecord(value: unknown): value is { readonly [field: string]: unknown } {
  return typeof value === 'object' && value !== null;
}

function isCount(value: unknown): value is number {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 0;
}

/** msgpackr hands binary back as a Buffer; callers compare with plain Uint8Arrays. */
export function asPlainBytes(bytes: Uint8Array): Uint8Array {
  return bytes.constructor === Uint8Array ? bytes : new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/** An entry as stored in a log record: `[index, term, kind, data]` (data stays binary). */
export function entryTuple(entry: Entry): unknown[] {
  return [entry.index, entry.term, entry.kind, entry.data];
}

export function decodeEntryTuple(value: unknown, what: string): Entry {
  if (!Array.isArray(value) || value.length !== 4) throw corrupt(`${what}: an entry is not a 4-tuple`);
  const tuple: readonly unknown[] = value;
  const [index, term, kind, data] = tuple;
  if (!isCount(index) || index === 0) throw corrupt(`${what}: bad entry index`);
  if (!isCount(term)) throw corrupt(`${what}: entry ${index} has a bad term`);
  if (kind !== 'normal' && kind !== 'conf') throw corrupt(`${what}: entry ${index} has a bad kind`);
  if (!(data instanceof Uint8Array)) throw corrupt(`${what}: entry ${index} data is not binary`);
  return { index, term, kind, data: asPlainBytes(data) };
}

export function hardStateTuple(hard: HardState): unknown[] {
  return [hard.term, hard.vote, hard.commit];
}

export function decodeHardStateTuple(value: unknown, what: string): HardState {
  if (!Array.isArray(value) || value.length !== 3) throw corrupt(`${what}: not a 3-tuple`);
  const tuple: readonly unknown[] = value;
  const [term, vote, commit] = tuple;
  if (!isCount(term) || !isCount(commit)) throw corrupt(`${what}: bad term or commit`);
  if (vote !== null && typeof vote !== 'string') throw corrupt(`${what}: bad vote`);
  return { term, vote, commit };
}

/** The compaction point: a hint, since the log's segments may still hold older entries. */
export function encodeLogStart(index: number): Uint8Array {
  return encode(index);
}

export function decodeLogStart(bytes: Uint8Array): number {
  const value = decode(bytes, 'log start');
  if (!isCount(value)) throw corrupt(`log start: not an index`);
  return value;
}

export function encodeSnapshotMeta(meta: StoredSnapshotMeta): Uint8Array {
  return encode({ ...meta, conf: { voters: [...meta.conf.voters], learners: [...meta.conf.learners] } });
}

function isIdList(value: unknown): value is NodeId[] {
  return Array.isArray(value) && value.every((id) => typeof id === 'string');
}

export function decodeSnapshotMeta(bytes: Uint8Array): StoredSnapshotMeta {
  const value = decode(bytes, 'snapshot meta');
  if (!isRecord(value)) throw corrupt(`snapshot meta: not a map`);
  const { index, term, conf, dataBytes, checksum, generation } = value;
  if (!isCount(index) || !isCount(term) || !isCount(dataBytes) || !isCount(checksum) || !isCount(generation)) throw corrupt(`snapshot meta: bad number`);
  if (!isRecord(conf)) throw corrupt(`snapshot meta: no conf`);
  const { voters, learners } = conf;
  if (!isIdList(voters) || !isIdList(learners)) throw corrupt(`snapshot meta: bad conf`);
  return { index, term, conf: { voters, learners }, dataBytes, checksum, generation };
}

export function decodeFormatVersion(bytes: Uint8Array): unknown {
  return decode(bytes, 'format version');
}
