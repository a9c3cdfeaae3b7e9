import type { ConfState, Entry } from './types.js';

export const EMPTY_BYTES: Uint8Array = new Uint8Array(0);

/** Bytes an entry costs in flow control: its payload plus a fixed header estimate. */
export function entryBytes(entry: Entry): number {
  return entry.data.length + 24;
}

/** Entries from the front of `entries` whose total stays within `maxBytes`, at least one. */
export function limitBytes(entries: Entry[], maxBytes: number): Entry[] {
  let total = 0;
  for (let i = 0; i < entries.length; i++) {
    const entry = entries[i] as Entry;
    total += entryBytes(entry);
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

export const EMPTY_CONF: ConfState = Object.freeze({ voters: Object.freeze([]) as readonly string[], learners: Object.freeze([]) as readonly string[] });
