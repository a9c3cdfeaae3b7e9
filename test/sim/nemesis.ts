// The fault schedule, drawn from the run's PRNG as the run goes: crashes and restarts,
// partitions of many shapes, network weather, leadership transfers, membership changes and
// elections forced at random. Pure choices live here; the simulation carries them out.
import type { NodeId } from '../../src/raft/types.js';
import { bridge, isolate, oneWay, ring, splitGroups, type Link, type NetworkFaults } from './network.js';
import type { Prng } from '../support/prng.js';

export type NemesisAction = 'crash' | 'partition' | 'heal' | 'weather' | 'transfer' | 'membership' | 'campaign' | 'clock' | 'none';

export type NemesisWeights = Readonly<Record<NemesisAction, number>>;

export const DEFAULT_WEIGHTS: NemesisWeights = {
  crash: 18,
  partition: 18,
  heal: 8,
  weather: 8,
  transfer: 10,
  membership: 16,
  campaign: 4,
  clock: 4,
  none: 14,
};

export function pickAction(rng: Prng, weights: NemesisWeights): NemesisAction {
  const options = (Object.entries(weights) as [NemesisAction, number][]).filter(([, w]) => w > 0);
  const total = options.reduce((s, [, w]) => s + w, 0);
  let roll = rng.int(total);
  for (const [a, w] of options) {
    if (roll < w) return a;
    roll -= w;
  }
  return 'none';
}

export type PartitionShape = 'majority-minority' | 'isolate-leader' | 'one-way' | 'bridge' | 'ring';

function shuffled<T>(rng: Prng, items: readonly T[]): T[] {
  const out = [...items];
  for (let i = out.length - 1; i > 0; i--) {
    const j = rng.int(i + 1);
    [out[i], out[j]] = [out[j] as T, out[i] as T];
  }
  return out;
}

/** A random partition over `nodes`; `leader` is the one to isolate when that shape is drawn. */
export function drawPartition(rng: Prng, nodes: readonly NodeId[], leader: NodeId | null): { shape: PartitionShape; links: Link[] } {
  const shapes: PartitionShape[] = ['majority-minority', 'isolate-leader', 'one-way', 'bridge', 'ring'];
  const shape = rng.pick(shapes);
  const order = shuffled(rng, nodes);
  const n = order.length;
  switch (shape) {
    case 'majority-minority': {
      const minority = rng.range(1, Math.max(1, Math.floor(n / 2)));
      return { shape, links: splitGroups([order.slice(0, minority), order.slice(minority)]) };
    }
    case 'isolate-leader':
      return { shape, links: isolate(leader ?? (order[0] as NodeId), nodes) };
    case 'one-way': {
      const k = rng.range(1, Math.max(1, n - 1));
      return { shape, links: oneWay(order.slice(0, k), order.slice(k)) };
    }
    case 'bridge': {
      const rest = order.slice(1);
      const half = Math.ceil(rest.length / 2);
      return { shape, links: bridge(rest.slice(0, half), rest.slice(half)) };
    }
    case 'ring':
      return { shape, links: ring(order) };
  }
}

/** Random network weather: delays up to tens of ms, some loss, duplication and reordering. */
export function drawWeather(rng: Prng): NetworkFaults {
  const delayMsMin = rng.range(0, 3);
  return {
    delayMsMin,
    delayMsMax: delayMsMin + rng.range(1, 40),
    dropProbability: rng.chance(0.3) ? 0 : rng.float() * 0.2,
    duplicateProbability: rng.float() * 0.1,
    reorderProbability: rng.float() * 0.3,
    reorderDelayMsMax: rng.range(0, 100),
  };
}
