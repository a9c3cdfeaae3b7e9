import assert from 'node:assert/strict';

// One byte of prefix per kind of record keeps each kind in its own ordered key range, so an
// ordered scan of one prefix sees only that kind. Entry and chunk numbers are fixed-width
// big-endian, so byte order equals numeric order.
const PREFIX_ENTRY = 0x65; // 'e'
const PREFIX_CHUNK = 0x63; // 'c'
const PREFIX_META = 0x6d; // 'm'

const encoder = new TextEncoder();

function metaKey(name: string): Uint8Array {
  const text = encoder.encode(name);
  const key = new Uint8Array(1 + text.length);
  key[0] = PREFIX_META;
  key.set(text, 1);
  return key;
}

export const KEY_FORMAT_VERSION = metaKey('format-version');
export const KEY_HARD_STATE = metaKey('hard-state');
export const KEY_SNAPSHOT_META = metaKey('snapshot-meta');
/** The index and term of the last compacted entry: the log's sentinel. */
export const KEY_LOG_START = metaKey('log-start');

/** Entries are addressed by index; the largest index fits a double exactly. */
export function entryKey(index: number): Uint8Array {
  assert.ok(Number.isSafeInteger(index) && index > 0, `entry index ${index} is not a positive safe integer`);
  const key = new Uint8Array(9);
  key[0] = PREFIX_ENTRY;
  new DataView(key.buffer).setBigUint64(1, BigInt(index));
  return key;
}

export function entryIndexOfKey(key: Uint8Array): number {
  assert.equal(key.length, 9, 'an entry key is 9 bytes');
  assert.equal(key[0], PREFIX_ENTRY, 'an entry key starts with the entry prefix');
  const index = new DataView(key.buffer, key.byteOffset, key.byteLength).getBigUint64(1);
  assert.ok(index <= BigInt(Number.MAX_SAFE_INTEGER), 'entry index beyond the safe integer range');
  return Number(index);
}

/** The [gte, lt) bounds of every entry key. */
export const ENTRY_RANGE = { gte: new Uint8Array([PREFIX_ENTRY]), lt: new Uint8Array([PREFIX_ENTRY + 1]) } as const;

export function chunkKey(chunk: number): Uint8Array {
  assert.ok(Number.isInteger(chunk) && chunk >= 0 && chunk < 2 ** 32, `chunk number ${chunk} out of range`);
  const key = new Uint8Array(5);
  key[0] = PREFIX_CHUNK;
  new DataView(key.buffer).setUint32(1, chunk);
  return key;
}
