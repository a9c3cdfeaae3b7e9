// The simulated application: a key-value map fed by the log, plus the list of every value
// ever written, so the simulator can tell whether an acknowledged write survived. It keeps a
// running digest of its applied prefix (every entry: commands, empty and membership entries)
// so that two replicas can be compared in O(1). It is the node runtime's state machine.
import assert from 'node:assert/strict';
import { decodeConfChange } from '../../src/raft/index.js';
import type { ConfChange, ConfState, Entry } from '../../src/raft/index.js';
import type { StateMachine } from '../../src/node/index.js';
import { HASH_SEED, hashBytes, hashNumber } from './hash.js';

export type KvCommand = { readonly kind: 'put'; readonly key: string; readonly value: string } | { readonly kind: 'delete'; readonly key: string };

/** What a proposal resolves with: where its entry applied. */
export interface KvResult {
  readonly index: number;
  readonly term: number;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

export function encodeCommand(c: KvCommand): Uint8Array {
  assert.ok(!c.key.includes('|') && (c.kind === 'delete' || !c.value.includes('|')), 'keys and values must not contain |');
  return encoder.encode(c.kind === 'put' ? `p|${c.key}|${c.value}` : `d|${c.key}`);
}

export function decodeCommand(data: Uint8Array): KvCommand | null {
  if (data.length === 0) return null; // a leader's empty entry
  const [op, key, value] = decoder.decode(data).split('|');
  if (op === 'p' && key !== undefined && value !== undefined) return { kind: 'put', key, value };
  if (op === 'd' && key !== undefined) return { kind: 'delete', key };
  return null; // not ours (a benchmark payload, say): still part of the digest
}

interface SnapshotImage {
  readonly index: number;
  readonly term: number;
  readonly digest: number;
  readonly kv: [string, string][];
  readonly values: string[];
  /** The membership the applied prefix implies, kept by the application itself. */
  readonly conf: ConfState;
}

/**
 * Membership after one change, written here independently of the core (src/raft's
 * applyConfChange) so that the checker does not trust the code it checks. Total, like the
 * core's: a change that no longer fits leaves the membership as it is.
 */
export function foldConfChange(conf: ConfState, change: ConfChange): ConfState {
  const voter = conf.voters.includes(change.node);
  const learner = conf.learners.includes(change.node);
  const without = (ids: readonly string[]) => ids.filter((id) => id !== change.node);
  switch (change.type) {
    case 'addLearner':
      // On a voter it is a demotion (one change of the voter set, like a removal), never of the last voter.
      if (learner || (voter && conf.voters.length === 1)) return conf;
      return { voters: without(conf.voters), learners: [...conf.learners, change.node] };
    case 'addVoter':
      return voter ? conf : { voters: [...conf.voters, change.node], learners: without(conf.learners) };
    case 'remove':
      if (voter && conf.voters.length === 1) return conf;
      return voter || learner ? { voters: without(conf.voters), learners: without(conf.learners) } : conf;
  }
}

/** How many recent membership states a machine remembers (the core lags the application by at most one Ready). */
const CONF_HISTORY_MAX = 32;

/** Told of every entry applied and every snapshot restored, with the digest after it. */
export interface KvObserver {
  applied(entry: Entry, digest: number): void;
  restored(index: number, term: number, digest: number): void;
}

export class KvMachine implements StateMachine<KvCommand, KvResult> {
  appliedIndex = 0;
  appliedTerm = 0;
  digest = HASH_SEED;
  readonly kv = new Map<string, string>();
  readonly values: string[] = [];
  readonly valueSet = new Set<string>();
  /** The membership of the applied prefix, and the index at which each recent one took effect, oldest first. */
  conf: ConfState;
  private confHistory: { index: number; conf: ConfState }[];

  constructor(private readonly observer: KvObserver | null = null, initialConf: ConfState = { voters: [], learners: [] }) {
    this.conf = initialConf;
    this.confHistory = [{ index: 0, conf: initialConf }];
  }

  /** The membership as of `index`, or null when that is older than what this machine remembers. */
  confAt(index: number): ConfState | null {
    let found: ConfState | null = null;
    for (const h of this.confHistory) {
      if (h.index > index) break;
      found = h.conf;
    }
    return found;
  }

  encode(command: KvCommand): Uint8Array {
    return encodeCommand(command);
  }

  apply(entry: Entry): KvResult {
    assert.equal(entry.index, this.appliedIndex + 1, `apply out of order: ${entry.index} after ${this.appliedIndex}`);
    this.appliedIndex = entry.index;
    this.appliedTerm = entry.term;
    let h = hashNumber(this.digest, entry.index);
    h = hashNumber(h, entry.term);
    h = hashNumber(h, entry.kind === 'conf' ? 1 : 0);
    this.digest = hashBytes(h, entry.data);
    if (entry.kind === 'conf') {
      this.conf = foldConfChange(this.conf, decodeConfChange(entry.data));
      this.confHistory.push({ index: entry.index, conf: this.conf });
      if (this.confHistory.length > CONF_HISTORY_MAX) this.confHistory.shift();
    }
    const c = entry.kind === 'normal' ? decodeCommand(entry.data) : null;
    if (c?.kind === 'put') {
      this.kv.set(c.key, c.value);
      this.values.push(c.value);
      this.valueSet.add(c.value);
    } else if (c?.kind === 'delete') {
      this.kv.delete(c.key);
    }
    this.observer?.applied(entry, this.digest);
    return { index: entry.index, term: entry.term };
  }

  snapshot(): Uint8Array {
    const image: SnapshotImage = { index: this.appliedIndex, term: this.appliedTerm, digest: this.digest, kv: [...this.kv], values: this.values, conf: this.conf };
    return encoder.encode(JSON.stringify(image));
  }

  restore(data: Uint8Array): void {
    const image = JSON.parse(decoder.decode(data)) as SnapshotImage;
    this.appliedIndex = image.index;
    this.appliedTerm = image.term;
    this.digest = image.digest;
    this.conf = image.conf;
    this.confHistory = [{ index: image.index, conf: image.conf }];
    this.kv.clear();
    for (const [k, v] of image.kv) this.kv.set(k, v);
    this.values.length = 0;
    this.valueSet.clear();
    for (const v of image.values) {
      this.values.push(v);
      this.valueSet.add(v);
    }
    this.observer?.restored(image.index, image.term, this.digest);
  }
}
