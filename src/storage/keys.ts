import assert from 'node:assert/strict';

// One byte of prefix per kind of record keeps each kind in its own ordered key range, so an
// ordered scan of one prefix sees only that kind. Entry and chunk numbers are fixed-width
// big-endian, so byte order equals numeric order.
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
export const KEY_SNAPSHOT_META = metaKey('snapshot-meta');
/** A snapshot from the leader, stored but not yet in force (see snapshot_store.ts). */
export const KEY_PENDING_SNAPSHOT = metaKey('pending-snapshot');
/** The last compaction index: a hint, the log's segments may still hold older entries. */
export const KEY_LOG_START = metaKey('log-start');

/** Snapshot images are stored under a generation, so a new image never overwrites the current one. */
export function chunkKey(generation: number, chunk: number): Uint8Array {
  assert.ok(Number.isSafeInteger(generation) && generation >= 0, `generation ${generation} out of range`);
  assert.ok(Number.isInteger(chunk) && chunk >= 0 && chunk < 2 ** 32, `chunk number ${chunk} out of range`);
  const key = new Uint8Array(13);
  key[0] = PREFIX_CHUNK;
  const view = new DataView(key.buffer);
  view.setBigUint64(1, BigInt(generation));
  view.setUint32(9, chunk);
  return key;
}
