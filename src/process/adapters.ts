// The node runtime's ports filled with the real world: Node's timers, the durable log on
// disk, and the TCP transport.
import type { DurableStorage } from '../storage/index.js';
import type { Clock, Done, LogStore } from '../node/index.js';

/** Node's monotonic clock and timers. */
export const realClock: Clock = {
  nowMs: () => performance.now(),
  setTimer(delayMs, fn) {
    const timer = setTimeout(fn, Math.max(0, delayMs));
    return { cancel: () => clearTimeout(timer) };
  },
  defer: (fn) => void setImmediate(fn),
};

function settle(promise: Promise<unknown>, done: Done): void {
  promise.then(
    () => done(null),
    (error: unknown) => done(error instanceof Error ? error : new Error(String(error))),
  );
}

/** The durable storage behind the runtime's callback-style LogStore port. */
export function logStoreOf(storage: DurableStorage): LogStore {
  return {
    initialState: () => storage.initialState(),
    entries: (lo, hi, maxBytes) => storage.entries(lo, hi, maxBytes),
    term: (index) => storage.term(index),
    firstIndex: () => storage.firstIndex(),
    lastIndex: () => storage.lastIndex(),
    snapshot: () => storage.snapshot(),
    snapshotInfo: () => storage.snapshotInfo(),
    write: (batch, sync, done) => settle(storage.save(batch, { sync }), done),
    createSnapshot: (index, conf, data, done) => settle(storage.createSnapshot(index, conf, data), done),
    compact: (index, done) => settle(storage.compact(index), done),
  };
}
