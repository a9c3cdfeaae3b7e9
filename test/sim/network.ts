// The simulated network: every message is delayed by a random amount, and may be dropped,
// duplicated or held back (reordered). Partitions are a set of blocked directed links, so
// any shape can be expressed, including one-way cuts and a bridge node that sees both sides.
import assert from 'node:assert/strict';
import type { NodeId } from '../../src/raft/types.js';
import type { Prng } from '../support/prng.js';

export interface NetworkFaults {
  readonly delayMsMin: number;
  readonly delayMsMax: number;
  readonly dropProbability: number;
  readonly duplicateProbability: number;
  /** Chance a message is held back by up to `reorderDelayMsMax` more, so later ones overtake it. */
  readonly reorderProbability: number;
  readonly reorderDelayMsMax: number;
}

export const CALM_NETWORK: NetworkFaults = {
  delayMsMin: 1,
  delayMsMax: 5,
  dropProbability: 0,
  duplicateProbability: 0,
  reorderProbability: 0,
  reorderDelayMsMax: 0,
};

/** A directed link "from>to". */
export type Link = `${string}>${string}`;

export function link(from: NodeId, to: NodeId): Link {
  return `${from}>${to}`;
}

export class SimNetwork {
  private readonly blocked = new Set<Link>();

  constructor(private readonly rng: Prng, private faults: NetworkFaults) {
    checkFaults(faults);
  }

  setFaults(faults: NetworkFaults): void {
    checkFaults(faults);
    this.faults = faults;
  }

  currentFaults(): NetworkFaults {
    return this.faults;
  }

  isBlocked(from: NodeId, to: NodeId): boolean {
    return this.blocked.has(link(from, to));
  }

  /** Replaces the current partition with exactly these blocked links. */
  setBlocked(links: Iterable<Link>): void {
    this.blocked.clear();
    for (const l of links) this.blocked.add(l);
  }

  blockedLinks(): Link[] {
    return [...this.blocked].sort();
  }

  heal(): void {
    this.blocked.clear();
  }

  /**
   * The delays after which copies of one message arrive: none if it is blocked or dropped,
   * two if it is duplicated. Draws from the PRNG in a fixed order so runs replay.
   */
  route(from: NodeId, to: NodeId): number[] {
    if (this.isBlocked(from, to)) return [];
    const f = this.faults;
    if (this.rng.chance(f.dropProbability)) return [];
    const copies = this.rng.chance(f.duplicateProbability) ? 2 : 1;
    const delays: number[] = [];
    for (let i = 0; i < copies; i++) {
      let delayMs = this.rng.range(f.delayMsMin, f.delayMsMax);
      if (this.rng.chance(f.reorderProbability)) delayMs += this.rng.range(0, f.reorderDelayMsMax);
      delays.push(delayMs);
    }
    return delays;
  }
}

function checkFaults(f: NetworkFaults): void {
  assert.ok(Number.isInteger(f.delayMsMin) && f.delayMsMin >= 0 && f.delayMsMax >= f.delayMsMin, 'bad delay range');
  for (const p of [f.dropProbability, f.duplicateProbability, f.reorderProbability]) assert.ok(p >= 0 && p <= 1, `bad probability ${p}`);
  assert.ok(Number.isInteger(f.reorderDelayMsMax) && f.reorderDelayMsMax >= 0, 'bad reorder delay');
}

// Partition shapes: each returns the directed links to block.

/** Groups that cannot talk to each other at all (majority/minority, isolated node, ...). */
export function splitGroups(groups: readonly (readonly NodeId[])[]): Link[] {
  const out: Link[] = [];
  for (let g = 0; g < groups.length; g++) {
    for (let h = 0; h < groups.length; h++) {
      if (g === h) continue;
      for (const a of groups[g] ?? []) for (const b of groups[h] ?? []) out.push(link(a, b));
    }
  }
  return out;
}

export function isolate(node: NodeId, all: readonly NodeId[]): Link[] {
  return splitGroups([[node], all.filter((n) => n !== node)]);
}

/** Messages from `senders` to `receivers` are lost; the other direction still works. */
export function oneWay(senders: readonly NodeId[], receivers: readonly NodeId[]): Link[] {
  const out: Link[] = [];
  for (const a of senders) for (const b of receivers) if (a !== b) out.push(link(a, b));
  return out;
}

/** Two sides that cannot see each other, and one node that sees both. */
export function bridge(sideA: readonly NodeId[], sideB: readonly NodeId[]): Link[] {
  return splitGroups([sideA, sideB]);
}

/** Each node talks only to its two neighbours in the given order. */
export function ring(nodes: readonly NodeId[]): Link[] {
  const out: Link[] = [];
  const n = nodes.length;
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < n; j++) {
      const distance = Math.min((i - j + n) % n, (j - i + n) % n);
      if (distance > 1) out.push(link(nodes[i] as NodeId, nodes[j] as NodeId));
    }
  }
  return out;
}
