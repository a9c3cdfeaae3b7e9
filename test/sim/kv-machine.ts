// The simulated application: a key-value map fed by the log, plus the list of every value
// ever written, so the simulator can tell whether an acknowledged write survived. It keeps a
// running digest of its applied prefix so that two replicas can be compared in O(1).
import assert from 'node:assert/strict';
import type { Entry, SnapshotMeta } from '../../src/raft/types.js';
import { HASH_SEED, hashBytes, hashNumber } from './hash.js';

export type KvCommand = { readonly kind: 'put'; readonly key: string; readonly value: string } | { readonly kind: 'delete'; readonly key: string };

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

export class KvMachine {
  appliedIndex = 0;
  appliedTerm = 0;
  digest = HASH_SEED;
  readonly kv = new Map<string, string>();
  readonly values: string[] = [];
  readonly valueSet = new Set<string>();

  apply(entry: Entry): void {
    assert.equal(entry.index, this.appliedIndex + 1, `apply out of order: ${entry.index} after ${this.appliedIndex}`);
    this.appliedIndex = entry.index;
    this.appliedTerm = entry.term;
    let h = hashNumber(this.digest, entry.index);
    h = hashNumber(h, entry.term);
    h = hashNumber(h, entry.kind === 'conf' ? 1 : 0);
    this.digest = hashBytes(h, entry.data);
    if (entry.kind !== 'normal') return; // membership: the core applies it itself
    const c = decodeCommand(entry.data);
    if (c === null) return;
    if (c.kind === 'put') {
      this.kv.set(c.key, c.value);
      this.values.push(c.value);
      this.valueSet.add(c.value);
    } else {
      this.kv.delete(c.key);
    }
  }

  snapshotBytes(): Uint8Array {
    const image: SnapshotImage = { index: this.appliedIndex, term: this.appliedTerm, digest: this.digest, kv: [...this.kv], values: this.values };
    return encoder.encode(JSON.stringify(image));
  }

  static restore(meta: SnapshotMeta, data: Uint8Array): KvMachine {
    const m = new KvMachine();
    if (meta.index === 0) return m;
    const image = JSON.parse(decoder.decode(data)) as SnapshotImage;
    assert.equal(image.index, meta.index, 'snapshot data does not match its metadata');
    assert.equal(image.term, meta.term, 'snapshot term does not match its metadata');
    m.appliedIndex = image.index;
    m.appliedTerm = image.term;
    m.digest = image.digest;
    for (const [k, v] of image.kv) m.kv.set(k, v);
    for (const v of image.values) {
      m.values.push(v);
      m.valueSet.add(v);
    }
    return m;
  }
}
