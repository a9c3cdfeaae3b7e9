// Faults, one at a time: the nemesis picks a fault from the enabled kinds with the seeded
// PRNG, starts it, holds it, heals it, then waits for a leader before the next one.
// Every start and end goes into the timeline with the runner's clock.
import type { Prng } from '../support/prng.js';
import type { JepsenCluster } from './cluster.js';

export const NEMESIS_KINDS = ['kill', 'pause', 'partition', 'clock', 'member', 'loss', 'outage'] as const;
export type NemesisKind = (typeof NEMESIS_KINDS)[number];

export interface FaultEvent {
  readonly atMs: number;
  readonly phase: 'start' | 'end' | 'note';
  readonly kind: string;
  readonly detail: string;
}

export interface NemesisOptions {
  readonly kinds: readonly NemesisKind[];
  readonly prng: Prng;
  readonly now: () => number;
  readonly log: (s: string) => void;
  /** Quiet time between faults and time a fault is held, in ms. */
  readonly quietMs: readonly [number, number];
  readonly holdMs: readonly [number, number];
  /** How long the `outage` fault keeps every node down: longer than the scheduler's catch-up (60 s). */
  readonly outageMs?: number;
}

/** Every node down from startMs to endMs (wall clock): the scheduler's misfire policies apply. */
export interface Outage {
  readonly startMs: number;
  readonly endMs: number;
}

interface Fault {
  readonly kind: string;
  readonly detail: string;
  readonly heal: () => Promise<void>;
}

const pick = <T>(prng: Prng, items: readonly T[]): T => items[prng.int(items.length)] as T;

function shuffled<T>(prng: Prng, items: readonly T[]): T[] {
  const out = [...items];
  for (let i = out.length - 1; i > 0; i--) {
    const j = prng.int(i + 1);
    [out[i], out[j]] = [out[j] as T, out[i] as T];
  }
  return out;
}

export class Nemesis {
  readonly timeline: FaultEvent[] = [];
  readonly outages: Outage[] = [];
  private active: Fault | null = null;

  constructor(private readonly cluster: JepsenCluster, private readonly options: NemesisOptions) {}

  note(kind: string, detail: string): void {
    this.timeline.push({ atMs: this.options.now(), phase: 'note', kind, detail });
  }

  /** Runs faults until `until()` says stop; always leaves the cluster healed. */
  async run(stopped: () => boolean): Promise<void> {
    const { prng } = this.options;
    while (!stopped()) {
      await this.sleepUnless(prng.range(this.options.quietMs[0], this.options.quietMs[1]), stopped);
      if (stopped() || this.options.kinds.length === 0) break;
      const kind = pick(prng, this.options.kinds);
      const startedAtMs = this.options.now();
      const fault = await this.start(kind);
      this.active = fault;
      this.timeline.push({ atMs: startedAtMs, phase: 'start', kind: fault.kind, detail: fault.detail });
      this.options.log(`nemesis: ${fault.kind} ${fault.detail}`);
      await this.sleepUnless(prng.range(this.options.holdMs[0], this.options.holdMs[1]), stopped);
      await this.healActive();
      await this.cluster.waitForLeader(60_000);
    }
  }

  async healActive(): Promise<void> {
    const fault = this.active;
    this.active = null;
    if (fault === null) return;
    await fault.heal();
    this.timeline.push({ atMs: this.options.now(), phase: 'end', kind: fault.kind, detail: fault.detail });
  }

  private async sleepUnless(ms: number, stopped: () => boolean): Promise<void> {
    const until = this.options.now() + ms;
    while (!stopped() && this.options.now() < until) await new Promise((r) => setTimeout(r, Math.min(100, until - this.options.now())));
  }

  private async start(kind: NemesisKind): Promise<Fault> {
    const c = this.cluster;
    const { prng } = this.options;
    const leader = (await c.leader()) ?? pick(prng, c.liveIds());
    const ids = c.ids;
    const majority = Math.floor(ids.length / 2) + 1;
    switch (kind) {
      case 'kill': {
        const how = pick(prng, ['one', 'leader', 'majority'] as const);
        const victims = how === 'leader' ? [leader] : how === 'one' ? [pick(prng, ids)] : shuffled(prng, ids).slice(0, majority);
        for (const id of victims) await c.kill(id);
        return { kind: 'kill', detail: `${how}: ${victims.join(',')}`, heal: async () => void (await Promise.all(victims.map((id) => c.restart(id)))) };
      }
      case 'pause': {
        const victim = prng.chance(0.5) ? leader : pick(prng, ids);
        await c.pause(victim);
        return { kind: 'pause', detail: victim, heal: () => c.resume(victim) };
      }
      case 'partition':
        return this.partition(leader);
      case 'clock': {
        const victim = prng.chance(0.5) ? leader : pick(prng, ids);
        const skew: Record<string, string> = prng.chance(0.5) ? { CHIME_FAULT_CLOCK_OFFSET_MS: String((prng.chance(0.5) ? 1 : -1) * prng.range(500, 5000)) } : { CHIME_FAULT_CLOCK_RATE: pick(prng, ['0.5', '0.8', '1.25', '2']) };
        await c.kill(victim);
        await c.restart(victim, [], skew);
        return { kind: 'clock', detail: `${victim} ${Object.entries(skew).map(([k, v]) => `${k}=${v}`).join(' ')}`, heal: async () => {
          await c.kill(victim);
          await c.restart(victim);
        } };
      }
      case 'member': {
        const candidates = ids.filter((id) => id !== leader && c.isUp(id));
        const victim = pick(prng, candidates);
        if (c.sparesLeft() === 0) return { kind: 'member', detail: 'no spare id left: nothing done', heal: async () => {} };
        // The whole churn happens at start; holding it is just letting the cluster run.
        const spare = await c.replace(victim, (s) => this.note('member', s));
        return { kind: 'member', detail: `${victim} removed and wiped, ${spare} joined empty in its place`, heal: async () => {} };
      }
      case 'outage': {
        // A full outage, longer than the scheduler's catch-up: missed instants follow each
        // job's misfire policy (G6), which the scheduler checker verifies.
        for (const id of ids) await c.kill(id);
        const startMs = Date.now();
        const outageMs = this.options.outageMs ?? 75_000;
        await new Promise((r) => setTimeout(r, outageMs));
        return { kind: 'outage', detail: `every node down for ${outageMs} ms`, heal: async () => {
          this.outages.push({ startMs, endMs: Date.now() });
          await Promise.all(ids.map((id) => c.restart(id)));
        } };
      }
      case 'loss': {
        const victim = pick(prng, ids.filter((id) => c.isUp(id)));
        await c.restartOnCopy(victim);
        return { kind: 'loss', detail: `${victim} restarted on a copy of its data taken while running`, heal: async () => {} };
      }
    }
  }

  private partition(leader: string): Fault {
    const c = this.cluster;
    const { prng } = this.options;
    const ids = c.ids;
    const mode = prng.chance(0.5) ? ({ kind: 'cut' } as const) : ({ kind: 'stall' } as const);
    const how = pick(prng, ['halves', 'isolate-leader', 'ring', 'one-way', 'slow'] as const);
    const heal = async () => c.healLinks();
    if (how === 'slow') {
      const delayMs = prng.range(20, 200);
      c.setLinks(ids, ids, { kind: 'delay', delayMs });
      return { kind: 'partition', detail: `slow: every link +${delayMs} ms`, heal };
    }
    if (how === 'ring') {
      // Each node hears only its two ring neighbours: for 5 nodes every node sits in a
      // majority (itself and its neighbours), but no two nodes see the same majority.
      const order = shuffled(prng, ids);
      if (order.length === 3) {
        // Three nodes in a ring all see each other; cut one pair so the third is the bridge.
        c.setLinks([order[0] as string], [order[2] as string], mode);
        c.setLinks([order[2] as string], [order[0] as string], mode);
        return { kind: 'partition', detail: `bridge ${order[1]} between ${order[0]} and ${order[2]} (${mode.kind})`, heal };
      }
      for (let i = 0; i < order.length; i++) {
        for (let j = 0; j < order.length; j++) {
          const distance = Math.min(Math.abs(i - j), order.length - Math.abs(i - j));
          if (i !== j && distance > 1) c.link(order[i] as string, order[j] as string).setMode(mode);
        }
      }
      return { kind: 'partition', detail: `ring ${order.join('-')} (${mode.kind})`, heal };
    }
    if (how === 'one-way') {
      // The leader still hears everyone but nobody hears it (or the other way round).
      const others = ids.filter((id) => id !== leader);
      const inbound = prng.chance(0.5);
      if (inbound) c.setLinks(others, [leader], mode);
      else c.setLinks([leader], others, mode);
      return { kind: 'partition', detail: `one-way: ${inbound ? `nobody reaches ${leader}` : `${leader} reaches nobody`} (${mode.kind})`, heal };
    }
    const minority = how === 'isolate-leader' ? [leader] : shuffled(prng, ids).slice(0, Math.floor(ids.length / 2));
    const rest = ids.filter((id) => !minority.includes(id));
    c.setLinks(minority, rest, mode);
    c.setLinks(rest, minority, mode);
    return { kind: 'partition', detail: `${how}: [${minority.join(',')}] | [${rest.join(',')}] (${mode.kind})`, heal };
  }
}
