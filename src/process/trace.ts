// CHIME_TRACE=1: timestamps of each stage of a write on this node, for `npm run bench:trace`,
// which lines them up across the nodes of a cluster on one machine (wall-clock based
// high-resolution time, comparable between processes there). Events are kept in memory and
// written to stderr as JSON lines a few times a second, so the write being traced does not
// wait for a log write.
import type { TraceStage } from '../node/index.js';

/** Events kept between two flushes; beyond, new ones are dropped (and counted in the next line). */
const TRACE_EVENTS_MAX = 100_000;
const TRACE_FLUSH_MS = 100;

export type ApiTraceStage = 'received' | 'proposing' | 'resolved' | 'answered';

export class WriteTracer {
  private events: string[] = [];
  private dropped = 0;
  private readonly timer: ReturnType<typeof setInterval>;

  constructor(private readonly write: (text: string) => void) {
    this.timer = setInterval(() => this.flush(), TRACE_FLUSH_MS);
    this.timer.unref();
  }

  /** A stage of the node runtime (with the index it covers) or of the API (index -1). */
  mark(stage: TraceStage | ApiTraceStage, index = -1): void {
    if (this.events.length >= TRACE_EVENTS_MAX) {
      this.dropped += 1;
      return;
    }
    this.events.push(`{"trace":"${stage}","index":${index},"atMs":${performance.timeOrigin + performance.now()}}`);
  }

  flush(): void {
    if (this.dropped > 0) this.events.push(`{"trace":"dropped","index":${this.dropped},"atMs":${performance.timeOrigin + performance.now()}}`);
    this.dropped = 0;
    if (this.events.length === 0) return;
    const text = this.events.join('\n') + '\n';
    this.events = [];
    this.write(text);
  }

  stop(): void {
    clearInterval(this.timer);
    this.flush();
  }
}
