// The kill -9 test's shared vocabulary: the operations the child performs, the data they
// write (derived from (index, term) so the checker can recompute every byte), and a pure
// model of what the store must hold after each acknowledged operation.
import type { ConfState, Entry, HardState, Snapshot } from '../../src/raft/index.js';
import { seededInt as createRandom } from '../support/prng.js';

export { createRandom };

export interface Position {
  readonly index: number;
  readonly term: number;
}

export type CrashOp =
  | { readonly op: 'save'; readonly first: number; readonly count: number; readonly term: number; readonly hard: HardState | null; readonly snap: Position | null; readonly sync: boolean }
  | { readonly op: 'snapshot'; readonly index: number }
  | { readonly op: 'compact'; readonly index: number };

/** What the store must hold: the log after `start`, the hard state and the snapshot. */
export interface Model {
  readonly start: Position;
  /** Terms of entries start.index + 1, start.index + 2, ... */
  readonly terms: readonly number[];
  readonly hard: HardState;
  readonly snap: Position;
}

export const EMPTY_MODEL: Model = { start: { index: 0, term: 0 }, terms: [], hard: { term: 0, vote: null, commit: 0 }, snap: { index: 0, term: 0 } };


function bytesFor(seed: number, length: number): Uint8Array {
  const random = createRandom(seed);
  const bytes = new Uint8Array(length);
  for (let i = 0; i < length; i++) bytes[i] = random(256);
  return bytes;
}

export function entryData(index: number, term: number): Uint8Array {
  const length = (index * 31 + term * 17) % 700;
  return bytesFor(index * 7919 + term * 104729, length);
}

export function entryAt(index: number, term: number): Entry {
  return { index, term, kind: index % 5 === 0 ? 'conf' : 'normal', data: entryData(index, term) };
}

export function confAt(index: number): ConfState {
  return index % 2 === 0 ? { voters: ['a', 'b', 'c'], learners: [] } : { voters: ['a', 'b'], learners: ['d'] };
}

/** Snapshot images range up to ~1.2 MB so that several storage chunks are exercised. */
export function snapshotAt(position: Position): Snapshot {
  const length = (position.index * 7919 + position.term * 104729) % 1_200_000;
  return { meta: { index: position.index, term: position.term, conf: confAt(position.index) }, data: bytesFor(position.index ^ (position.term << 16), length) };
}

export function lastIndexOf(model: Model): number {
  return model.start.index + model.terms.length;
}

export function termAt(model: Model, index: number): number {
  if (index === model.start.index) return model.start.term;
  const term = model.terms[index - model.start.index - 1];
  if (term === undefined) throw new Error(`model has no entry ${index}`);
  return term;
}

export function applyOp(model: Model, op: CrashOp): Model {
  switch (op.op) {
    case 'save': {
      let { start, terms, snap } = model;
      if (op.snap !== null) {
        start = op.snap;
        snap = op.snap;
        terms = [];
      }
      const kept = terms.slice(0, Math.max(0, op.first - start.index - 1));
      const appended = new Array<number>(op.count).fill(op.term);
      return { start, terms: op.count > 0 ? [...kept, ...appended] : terms, hard: op.hard ?? model.hard, snap };
    }
    case 'snapshot':
      return { ...model, snap: { index: op.index, term: termAt(model, op.index) } };
    case 'compact':
      return { ...model, start: { index: op.index, term: termAt(model, op.index) }, terms: model.terms.slice(op.index - model.start.index) };
  }
}
