// Shared by the seed-sweep tests: run a range of seeds and describe the failures.
import { replayCommand, runSimulation, type SimConfig } from './simulation.js';

export interface SweepResult {
  readonly failures: string[];
  readonly electMs: number[];
  readonly totals: Record<string, number>;
}

export async function sweep(seeds: readonly number[], base: Omit<SimConfig, 'seed'>, skip: ReadonlySet<number> = new Set()): Promise<SweepResult> {
  const failures: string[] = [];
  const electMs: number[] = [];
  const totals: Record<string, number> = {};
  for (const seed of seeds) {
    if (skip.has(seed)) continue;
    const out = await runSimulation({ ...base, seed });
    if (!out.ok) {
      failures.push(`${out.error.message.split('\n')[0] ?? ''}\n  replay: ${replayCommand(seed, base.nodes, base.faultMs)}`);
      continue;
    }
    electMs.push(out.electMs);
    for (const [k, v] of Object.entries(out.stats)) if (typeof v === 'number') totals[k] = (totals[k] ?? 0) + v;
  }
  return { failures, electMs, totals };
}

export function seedRange(first: number, count: number): number[] {
  return Array.from({ length: count }, (_, i) => first + i);
}
