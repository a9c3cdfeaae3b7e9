// A bounded binary min-heap of timed entries: the retry queue and the per-run follow-ups.
// Entries are hints about replicated state: whoever pops one checks the table again.
import assert from 'node:assert';

export interface Timed {
  readonly dueMs: number;
}

export class TimedHeap<T extends Timed> {
  private readonly items: T[] = [];

  constructor(readonly capacity: number) {
    assert.ok(capacity >= 1, 'a heap holds at least one entry');
  }

  get size(): number {
    return this.items.length;
  }

  /** False when full: the caller counts the drop (and the table still holds the truth). */
  push(item: T): boolean {
    if (this.items.length >= this.capacity) return false;
    this.items.push(item);
    this.up(this.items.length - 1);
    return true;
  }

  peek(): T | undefined {
    return this.items[0];
  }

  /** The earliest entry if it is due by `nowMs`. */
  popDue(nowMs: number): T | undefined {
    const top = this.items[0];
    if (top === undefined || top.dueMs > nowMs) return undefined;
    const last = this.items.pop();
    if (last !== undefined && this.items.length > 0) {
      this.items[0] = last;
      this.down(0);
    }
    return top;
  }

  /** Keeps only the entries `keep` accepts (used to drop stale hints when the heap is full). */
  retain(keep: (item: T) => boolean): void {
    const kept = this.items.filter(keep);
    this.items.length = 0;
    for (const item of kept) this.push(item);
  }

  clear(): void {
    this.items.length = 0;
  }

  /** The entry at `i`, which the caller knows is inside the heap. */
  private at(i: number): T {
    const item = this.items[i];
    if (item === undefined) assert.fail(`heap index ${i} outside 0..${this.items.length - 1}`);
    return item;
  }

  private swap(i: number, j: number): void {
    const a = this.at(i);
    this.items[i] = this.at(j);
    this.items[j] = a;
  }

  private up(i: number): void {
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (this.at(parent).dueMs <= this.at(i).dueMs) return;
      this.swap(parent, i);
      i = parent;
    }
  }

  private down(i: number): void {
    const length = this.items.length;
    for (;;) {
      const l = 2 * i + 1;
      const r = l + 1;
      let least = i;
      if (l < length && this.at(l).dueMs < this.at(least).dueMs) least = l;
      if (r < length && this.at(r).dueMs < this.at(least).dueMs) least = r;
      if (least === i) return;
      this.swap(least, i);
      i = least;
    }
  }
}
