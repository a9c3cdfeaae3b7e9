// A node's clock in the simulation: virtual time scaled by the node's own rate, timers and
// end-of-turn deferrals as events in the one event queue. A crash kills the clock: nothing
// it scheduled runs afterwards, so a dead incarnation of a node can never act again.
import type { Clock, TimerHandle } from '../../src/node/index.js';

/** How the clock schedules a callback: after `delayMs` of virtual time. */
export type Schedule = (delayMs: number, fn: () => void) => void;

export class SimClock implements Clock {
  private alive = true;
  /** The clock reads `baseLocalMs` at virtual time `baseVirtualMs` and runs at `rate` from there. */
  private baseVirtualMs: number;
  private baseLocalMs: number;

  constructor(
    private readonly virtualNowMs: () => number,
    private readonly schedule: Schedule,
    /** How fast this node's clock runs against virtual time (0.5 to 2 in the sim). */
    private rate: number,
  ) {
    this.baseVirtualMs = virtualNowMs();
    this.baseLocalMs = this.baseVirtualMs * rate;
  }

  nowMs(): number {
    return this.baseLocalMs + (this.virtualNowMs() - this.baseVirtualMs) * this.rate;
  }

  /**
   * The clock speeds up or slows down from now on; it never jumps. Timers already set keep
   * their virtual deadline, so on this clock they fire early or late — as a timer does
   * when the oscillator drifts.
   */
  setRate(rate: number): void {
    this.baseLocalMs = this.nowMs();
    this.baseVirtualMs = this.virtualNowMs();
    this.rate = rate;
  }

  setTimer(delayMs: number, fn: () => void): TimerHandle {
    let cancelled = false;
    // Virtual time is whole milliseconds; a timer never fires early on the node's own clock.
    this.schedule(Math.max(0, Math.ceil(delayMs / this.rate)), () => {
      if (this.alive && !cancelled) fn();
    });
    return { cancel: () => void (cancelled = true) };
  }

  defer(fn: () => void): void {
    this.schedule(0, () => {
      if (this.alive) fn();
    });
  }

  kill(): void {
    this.alive = false;
  }
}
