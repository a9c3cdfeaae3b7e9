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
    const last = this.items.pop() as T;
    if (this.items.length > 0) {
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

  private up(i: number): void {
    const items = this.items;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if ((items[parent] as T).dueMs <= (items[i] as T).dueMs) return;
      [items[parent], items[i]] = [items[i] as T, items[parent] as T];
      i = parent;
    }
  }

  private down(i: number): void {
    const items = this.items;
    for (;;) {
      const l = 2 * i + 1;
      const r = l + 1;
      let least = i;
      if (l < items.length && (items[l] as T).dueMs < (items[least] as T).dueMs) least = l;
      if (r < items.length && (items[r] as T).dueMs < (items[least] as T).dueMs) least = r;
      if (least === i) return;
      [items[least], items[i]] = [items[i] as T, items[least] as T];
      i = least;
    }
  }
}
