// An ordered set kept as a list of sorted chunks (at most CHUNK_MAX items each): insert and
// delete cost a binary search plus a splice of one chunk, and walking in order from any key
// costs only the items walked. Used for the id index and the next-fire index, so neither a
// list nor a due-query ever sorts or scans every job.
import { assert, itemAt } from './assert.js';

const CHUNK_MAX = 512;

/**
 * Items of type T ordered by `compare`, which reads only K, the part of an item that orders it
 * (T by default). A walk may then start from a bare K: `valuesAfter({ seq })` needs no whole
 * item.
 */
export class SortedSet<T extends K, K = T> {
  private readonly chunks: T[][] = [];
  private count = 0;

  constructor(private readonly compare: (a: K, b: K) => number) {}

  get size(): number {
    return this.count;
  }

  /** Index of the first chunk whose last item is >= value (chunks.length when none). */
  private chunkFor(value: K): number {
    let lo = 0;
    let hi = this.chunks.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      const chunk = itemAt(this.chunks, mid);
      if (this.compare(itemAt(chunk, chunk.length - 1), value) < 0) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  /** Position of the first item >= value within a chunk. */
  private positionIn(chunk: readonly T[], value: K): number {
    let lo = 0;
    let hi = chunk.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.compare(itemAt(chunk, mid), value) < 0) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  add(value: T): boolean {
    if (this.chunks.length === 0) {
      this.chunks.push([value]);
      this.count = 1;
      return true;
    }
    let c = this.chunkFor(value);
    if (c === this.chunks.length) {
      // Past the last item: ids and instants often arrive in order, so a full last chunk
      // starts a new one rather than splitting into two half-empty ones.
      c -= 1;
      const last = itemAt(this.chunks, c);
      if (last.length >= CHUNK_MAX) {
        this.chunks.push([value]);
        this.count += 1;
        return true;
      }
    }
    const chunk = itemAt(this.chunks, c);
    const at = this.positionIn(chunk, value);
    if (at < chunk.length && this.compare(itemAt(chunk, at), value) === 0) return false;
    chunk.splice(at, 0, value);
    this.count += 1;
    if (chunk.length > CHUNK_MAX) this.chunks.splice(c + 1, 0, chunk.splice(chunk.length >>> 1));
    return true;
  }

  delete(value: T): boolean {
    const c = this.chunkFor(value);
    const chunk = this.chunks[c];
    if (chunk === undefined) return false;
    const at = this.positionIn(chunk, value);
    if (at >= chunk.length || this.compare(itemAt(chunk, at), value) !== 0) return false;
    chunk.splice(at, 1);
    this.count -= 1;
    if (chunk.length === 0) this.chunks.splice(c, 1);
    assert(this.count >= 0, 'sorted set count went negative');
    return true;
  }

  /**
   * Replaces the contents with `items`, which must be sorted and distinct, in full chunks:
   * how a restore builds an index without a splice per item. The order is asserted unless
   * the caller has established it already (`orderChecked`: comparing a million items
   * scattered over the heap costs seconds of cache misses).
   */
  fill(items: readonly T[], orderChecked = false): void {
    if (!orderChecked) for (let i = 1; i < items.length; i++) assert(this.compare(itemAt(items, i - 1), itemAt(items, i)) < 0, 'fill needs sorted distinct items');
    this.chunks.length = 0;
    for (let i = 0; i < items.length; i += CHUNK_MAX) this.chunks.push(items.slice(i, i + CHUNK_MAX));
    this.count = items.length;
  }

  /** The item for which `compareKey(item, key)` is 0, by binary search (the key must order like the items). */
  findBy<K>(key: K, compareKey: (item: T, key: K) => number): T | undefined {
    let lo = 0;
    let hi = this.chunks.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      const chunk = itemAt(this.chunks, mid);
      if (compareKey(itemAt(chunk, chunk.length - 1), key) < 0) lo = mid + 1;
      else hi = mid;
    }
    const chunk = this.chunks[lo];
    if (chunk === undefined) return undefined;
    let a = 0;
    let b = chunk.length;
    while (a < b) {
      const mid = (a + b) >>> 1;
      if (compareKey(itemAt(chunk, mid), key) < 0) a = mid + 1;
      else b = mid;
    }
    const found = chunk[a];
    return found !== undefined && compareKey(found, key) === 0 ? found : undefined;
  }

  has(value: K): boolean {
    const chunk = this.chunks[this.chunkFor(value)];
    if (chunk === undefined) return false;
    const at = this.positionIn(chunk, value);
    return at < chunk.length && this.compare(itemAt(chunk, at), value) === 0;
  }

  /** Items in order, starting after `after` (exclusive) or from the first item. */
  *valuesAfter(after?: K): Generator<T> {
    let c = 0;
    let at = 0;
    if (after !== undefined) {
      c = this.chunkFor(after);
      const chunk = this.chunks[c];
      if (chunk === undefined) return;
      at = this.positionIn(chunk, after);
      if (at < chunk.length && this.compare(itemAt(chunk, at), after) === 0) at += 1;
    }
    for (; c < this.chunks.length; c++, at = 0) {
      const chunk = itemAt(this.chunks, c);
      for (; at < chunk.length; at++) yield itemAt(chunk, at);
    }
  }

  /** Items in reverse order, starting before `before` (exclusive) or from the last item. */
  *valuesBefore(before?: K): Generator<T> {
    let c = this.chunks.length - 1;
    let at = this.chunks[c]?.length ?? 0;
    if (before !== undefined) {
      const found = this.chunkFor(before);
      if (found < this.chunks.length) {
        c = found;
        at = this.positionIn(itemAt(this.chunks, c), before);
      }
    }
    for (; c >= 0; c--) {
      const chunk = itemAt(this.chunks, c);
      if (at > chunk.length) at = chunk.length;
      for (at -= 1; at >= 0; at--) yield itemAt(chunk, at);
      at = this.chunks[c - 1]?.length ?? 0;
    }
  }

  first(): T | undefined {
    return this.chunks[0]?.[0];
  }
}
