
// Meta keys carry a one-byte prefix, so other kinds of keys can get ranges of their own.
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
/** A snapshot from the leader, stored but not yet in force (see snapshot-store.ts). */
export const KEY_PENDING_SNAPSHOT = metaKey('pending-snapshot');
/** The last compaction index: a hint, the log's segments may still hold older entries. */
export const KEY_LOG_START = metaKey('log-start');
