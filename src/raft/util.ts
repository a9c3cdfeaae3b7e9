import assert from 'node:assert/strict';
import type { ConfState, Entry } from './types.js';

export const EMPTY_BYTES: Uint8Array = new Uint8Array(0);

/** Bytes an entry costs in flow control: its payload plus a fixed header estimate. */
export function entryBytes(entry: Entry): number {
  return entry.data.length + 24;
}

/**
 * The item at `index`, which the caller knows is there (an index inside bounds it checked).
 * A broken bound is a bug: it throws instead of handing on `undefined`. The message is built
 * only on failure, so the hot paths that use this allocate nothing.
 */
export function itemAt<T>(items: ArrayLike<T>, index: number): T {
  const item = items[index];
  if (item === undefined) assert.fail(`index ${index} outside 0..${items.length - 1}`);
  return item;
}

/** Whether `value` is one of `choices` (a literal tuple), narrowing it to their union. */
export function isOneOf<const T extends readonly unknown[]>(choices: T, value: unknown): value is T[number] {
  return choices.includes(value);
}

/** Entries from the front of `entries` whose total stays within `maxBytes`, at least one. */
export function limitBytes(entries: Entry[], maxBytes: number): Entry[] {
  let total = 0;
  for (let i = 0; i < entries.length; i++) {
    total += entryBytes(itemAt(entries, i));
    if (total > maxBytes && i > 0) return entries.slice(0, i);
  }
  return entries;
}

export function isVoter(conf: ConfState, id: string): boolean {
  return conf.voters.includes(id);
}

export function isMember(conf: ConfState, id: string): boolean {
  return conf.voters.includes(id) || conf.learners.includes(id);
}

const NO_IDS: readonly string[] = Object.freeze([]);
export const EMPTY_CONF: ConfState = Object.freeze({ voters: NO_IDS, learners: NO_IDS });
