// The simulation's only notion of time: a virtual clock in integer milliseconds and a queue
// of events ordered by (time, sequence number). Equal times run in the order they were
// scheduled, so nothing depends on heap internals and a seed replays exactly.
import assert from 'node:assert/strict';

interface Slot<E> {
  readonly timeMs: number;
  readonly seq: number;
  readonly event: E;
}

export class EventQueue<E> {
  private readonly heap: Slot<E>[] = [];
  private seqNext = 0;
  private nowMsValue = 0;

  constructor(private readonly sizeMax: number) {}

  get nowMs(): number {
    return this.nowMsValue;
  }

  get size(): number {
    return this.heap.length;
  }

  schedule(delayMs: number, event: E): void {
    assert.ok(Number.isInteger(delayMs) && delayMs >= 0, `delay must be a non-negative integer, got ${delayMs}`);
    assert.ok(this.heap.length < this.sizeMax, `event queue full (${this.sizeMax})`);
    this.heap.push({ timeMs: this.nowMsValue + delayMs, seq: this.seqNext++, event });
    this.siftUp(this.heap.length - 1);
  }

  /** The next event, advancing the clock to its time; null when empty. */
  pop(): { timeMs: number; event: E } | null {
    const top = this.heap[0];
    if (top === undefined) return null;
    const last = this.heap.pop() as Slot<E>;
    if (this.heap.length > 0) {
      this.heap[0] = last;
      this.siftDown(0);
    }
    // An event due while time was advanced past it (a stall) runs late, never in the past.
    this.nowMsValue = Math.max(this.nowMsValue, top.timeMs);
    return { timeMs: this.nowMsValue, event: top.event };
  }

  /** Time passes with nothing happening (a stalled event loop): what falls due meanwhile runs late. */
  advance(ms: number): void {
    assert.ok(Number.isInteger(ms) && ms >= 0, `advance by a non-negative integer, got ${ms}`);
    this.nowMsValue += ms;
  }

  peekTimeMs(): number | null {
    return this.heap[0]?.timeMs ?? null;
  }

  private less(a: Slot<E>, b: Slot<E>): boolean {
    return a.timeMs < b.timeMs || (a.timeMs === b.timeMs && a.seq < b.seq);
  }

  private siftUp(i: number): void {
    const h = this.heap;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!this.less(h[i] as Slot<E>, h[parent] as Slot<E>)) return;
      [h[i], h[parent]] = [h[parent] as Slot<E>, h[i] as Slot<E>];
      i = parent;
    }
  }

  private siftDown(i: number): void {
    const h = this.heap;
    for (;;) {
      const l = 2 * i + 1;
      const r = l + 1;
      let m = i;
      if (l < h.length && this.less(h[l] as Slot<E>, h[m] as Slot<E>)) m = l;
      if (r < h.length && this.less(h[r] as Slot<E>, h[m] as Slot<E>)) m = r;
      if (m === i) return;
      [h[i], h[m]] = [h[m] as Slot<E>, h[i] as Slot<E>];
      i = m;
    }
  }
}
