import assert from 'node:assert/strict';
import type { TimerHandle, Timers } from './types.js';

/**
 * When a run due at `notBeforeMs` starts, on this node's clock (`nowMs` is the arrival of its
 * execute): not before the instant by our clock, nor by the leader's — its distance to the
 * instant when it sent the execute (`sentAtMs`, its clock), counted from arrival — so that
 * only both clocks running ahead could start a run early. Without `sentAtMs`, our clock alone.
 */
export function startAtMs(notBeforeMs: number, sentAtMs: number | undefined, nowMs: number): number {
  return sentAtMs === undefined ? notBeforeMs : Math.max(notBeforeMs, nowMs + (notBeforeMs - sentAtMs));
}

/**
 * Runs waiting for their notBefore, grouped by instant. Cron's instants come in bursts (every
 * job due at :00 shares one notBefore), and with a timer per run the starts of one instant
 * spread over several event-loop turns, the answers of the first calls read in between. One
 * timer per instant starts the whole burst in one go, before anything else is read.
 *
 * With `launch`, a burst starts in two passes: `launch` for every run first (what reaches the
 * outside world: a prepared request's write), then `start` for each (the bookkeeping: the
 * started report, the timeout timer). The last request of a burst of hundreds then leaves
 * after the writes before it, not after their bookkeeping too.
 */
export class StartWaves<T> {
  private readonly waves = new Map<number, { readonly timer: TimerHandle; readonly members: Set<T> }>();

  constructor(
    private readonly timers: Timers,
    private readonly now: () => number,
    private readonly start: (item: T) => void,
    private readonly launch: (item: T) => void = () => undefined,
  ) {}

  /**
   * Starts `item` with the others of instant `atMs`, at `startAtMs` on this node's clock (for
   * the first of an instant: the later ones join it); cancel() takes it out.
   */
  add(atMs: number, startAtMs: number, item: T): TimerHandle {
    let wave = this.waves.get(atMs);
    if (wave === undefined) {
      const members = new Set<T>();
      wave = { timer: this.timers.schedule(startAtMs - this.now(), () => this.fire(atMs, members)), members };
      this.waves.set(atMs, wave);
    }
    const { members, timer } = wave;
    assert.ok(!members.has(item), 'a run waits in one wave once');
    members.add(item);
    return {
      cancel: () => {
        if (!members.delete(item) || members.size > 0) return;
        timer.cancel();
        if (this.waves.get(atMs)?.members === members) this.waves.delete(atMs);
      },
    };
  }

  /** Instants with runs waiting (for stats and tests). */
  get size(): number {
    return this.waves.size;
  }

  private fire(atMs: number, members: Set<T>): void {
    if (this.waves.get(atMs)?.members === members) this.waves.delete(atMs);
    for (const item of members) this.launch(item);
    // A start can kill another waiting run (its cancel takes it out of the set before we
    // reach it); a Set visits what is left in the order of acceptance.
    for (const item of members) {
      members.delete(item);
      this.start(item);
    }
  }
}
