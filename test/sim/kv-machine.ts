// The simulated application: a key-value map fed by the log, plus the list of every value
// ever written, so the simulator can tell whether an acknowledged write survived. It keeps a
// running digest of its applied prefix (every entry: commands, empty and membership entries)
// so that two replicas can be compared in O(1). It is the node runtime's state machine.
import assert from 'node:assert/strict';
import type { Entry } from '../../src/raft/index.js';
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
}

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

  constructor(private readonly observer: KvObserver | null = null) {}

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
    const image: SnapshotImage = { index: this.appliedIndex, term: this.appliedTerm, digest: this.digest, kv: [...this.kv], values: this.values };
    return encoder.encode(JSON.stringify(image));
  }

  restore(data: Uint8Array): void {
    const image = JSON.parse(decoder.decode(data)) as SnapshotImage;
    this.appliedIndex = image.index;
    this.appliedTerm = image.term;
    this.digest = image.digest;
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
