// Batching of the execution plane's messages. At 1,000 runs per second one message per
// execute, report and acknowledgement was thousands of small frames a second, each encoded,
// framed and written on its own; these collect what one event-loop turn produces and send
// it per destination in bounded chunks.
import type { Report } from '../executor/index.js';
import type { ExecuteOrder } from '../scheduler/index.js';

/** Items in one batched message. */
export const ITEMS_PER_MESSAGE_MAX = 500;
/** Estimated bytes of one batched message (frames are limited to a few MiB). */
export const MESSAGE_BYTES_MAX = 1024 * 1024;
/** Items waiting for the next flush, over all destinations; beyond it a flush happens at once. */
const ITEMS_WAITING_MAX = 10_000;

/** Collects items per destination and hands them over once per event-loop turn, chunked. */
export class MessageBatcher<T> {
  private readonly waiting = new Map<string, T[]>();
  private count = 0;
  private scheduled = false;

  constructor(
    private readonly deliver: (to: string, items: T[]) => void,
    private readonly bytesOf: (item: T) => number = () => 256,
  ) {}

  push(to: string, item: T): void {
    let items = this.waiting.get(to);
    if (items === undefined) {
      items = [];
      this.waiting.set(to, items);
    }
    items.push(item);
    this.count += 1;
    if (this.count >= ITEMS_WAITING_MAX) this.flush();
    else if (!this.scheduled) {
      this.scheduled = true;
      setImmediate(() => this.flush());
    }
  }

  flush(): void {
    this.scheduled = false;
    const all = [...this.waiting];
    this.waiting.clear();
    this.count = 0;
    for (const [to, items] of all) {
      let chunk: T[] = [];
      let bytes = 0;
      for (const item of items) {
        const size = this.bytesOf(item);
        if (chunk.length > 0 && (chunk.length >= ITEMS_PER_MESSAGE_MAX || bytes + size > MESSAGE_BYTES_MAX)) {
          this.deliver(to, chunk);
          chunk = [];
          bytes = 0;
        }
        chunk.push(item);
        bytes += size;
      }
      if (chunk.length > 0) this.deliver(to, chunk);
    }
  }
}

/** Rough encoded size of an execute order: an http body or a shell environment can be large. */
export function orderBytes(order: ExecuteOrder): number {
  const spec = order.spec;
  let bytes = 256 + 3 * order.payload.length;
  if (spec.type === 'shell') {
    bytes += 3 * (spec.command.length + spec.cwd.length);
    for (const [name, value] of Object.entries(spec.env)) bytes += 3 * (name.length + value.length) + 8;
  } else if (spec.type === 'http') {
    bytes += 3 * (spec.url.length + spec.body.length + spec.method.length);
    for (const [name, value] of Object.entries(spec.headers)) bytes += 3 * (name.length + value.length) + 8;
  }
  return bytes;
}

/** Rough encoded size of a report (output and error dominate). */
export function reportBytes(report: Report): number {
  return 160 + (report.kind === 'finished' ? 3 * (report.output.length + (report.error?.length ?? 0)) : report.kind === 'lost' ? 3 * report.error.length : 0);
}

/**
 * Holds each `started` report for `holdMs` before it goes out. A run that ends meanwhile
 * (most HTTP calls do) needs no started report at all: its finished report carries the start
 * time, and one report instead of two is committed. A started report is dropped only while
 * still held, i.e. never after it was sent. At most `heldMax` are held; beyond that they go
 * out at once.
 */
export class StartedHold {
  private readonly held = new Map<string, { readonly report: Report; readonly dueMs: number }>();
  private timer: NodeJS.Timeout | null = null;
  /** Started reports dropped because their run's end came first. */
  skipped = 0;

  constructor(private readonly holdMs: number, private readonly heldMax: number, private readonly release: (report: Report) => void) {}

  static key(report: Report): string {
    return `${report.runId}/${report.attempt}`;
  }

  isHeld(report: Report): boolean {
    return report.kind === 'started' && this.held.has(StartedHold.key(report));
  }

  /** A new report: a started one is held; an end report drops its run's held start. */
  offer(report: Report): void {
    const key = StartedHold.key(report);
    if (report.kind !== 'started') {
      if (this.held.delete(key)) this.skipped += 1;
      this.release(report);
      return;
    }
    if (this.holdMs <= 0 || this.held.size >= this.heldMax) return this.release(report);
    this.held.set(key, { report, dueMs: performance.now() + this.holdMs });
    this.arm();
  }

  /** Sends every held report now (shutdown). */
  releaseAll(): void {
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
    const held = [...this.held.values()];
    this.held.clear();
    for (const h of held) this.release(h.report);
  }

  private arm(): void {
    if (this.timer !== null) return;
    const first = this.held.values().next();
    if (first.done === true) return;
    this.timer = setTimeout(() => {
      this.timer = null;
      const now = performance.now();
      // Insertion order is due order: every entry is held for the same time.
      for (const [key, h] of this.held) {
        if (h.dueMs > now) break;
        this.held.delete(key);
        this.release(h.report);
      }
      this.arm();
    }, Math.max(0, first.value.dueMs - performance.now()));
  }
}
