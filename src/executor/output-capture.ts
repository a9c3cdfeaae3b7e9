// One run's output on its way out of the process: masked per stream, then into the tail (for
// the report) and the store (for the full streams).
import assert from 'node:assert/strict';
import { StreamMasker, maskText } from './output-mask.js';
import type { RunOutputWriter } from './output-writer.js';
import { TailBuffer, type Tail } from './tail-buffer.js';
import type { OutputStreamName } from './types.js';

/**
 * Masking comes first, so no secret reaches the tail, the journal (which holds the tail) or
 * the files. Each stream has its own masker; a masker holds back at most (longest value − 1)
 * bytes until it knows they do not begin a secret, so with mask values a stream's last bytes
 * may reach the tail and the store a little after the other stream's next ones.
 *
 * Backpressure: `push` returns false when the store's queue for this run is full; the source
 * pauses (pipes, HTTP body) and resumes on `onDrain`. Without a store it always returns true.
 */
export class OutputCapture {
  /** Set by the source: resume reading. */
  onDrain: (() => void) | null = null;
  private tail: TailBuffer | null = null;
  private prefix = '';
  private readonly maskers: Readonly<Record<OutputStreamName, StreamMasker>> | null;
  private finished = false;

  constructor(private readonly tailBytesMax: number, private readonly maskValues: readonly string[], private readonly writer: RunOutputWriter | null) {
    this.maskers = maskValues.length === 0 ? null : { stdout: new StreamMasker(maskValues), stderr: new StreamMasker(maskValues) };
    if (writer !== null) writer.onDrain = () => this.onDrain?.();
  }

  /**
   * Text in front of the tail that shares its cap (an HTTP status line); it is the first
   * thing on stdout in the store. Only before any output.
   */
  setPrefix(text: string): void {
    assert.ok(this.tail === null && !this.finished, 'the prefix comes before any output');
    this.prefix = maskText(text, this.maskValues);
    this.tail = new TailBuffer(Math.max(0, this.tailBytesMax - Buffer.byteLength(this.prefix)));
    this.writer?.write('stdout', Buffer.from(this.prefix, 'utf8'));
  }

  /** False: pause the source until onDrain. */
  push(stream: OutputStreamName, chunk: Buffer): boolean {
    if (this.finished) return true;
    const masked = this.maskers === null ? chunk : this.maskers[stream].push(chunk);
    return this.deliver(stream, masked);
  }

  /**
   * The run ended: releases what the maskers held, ends the store's writer and renders the
   * tail. `suffix` (a note such as "stopped reading the body") goes after the tail, outside
   * its cap, and to the end of stdout in the store.
   */
  finish(suffix = ''): Tail {
    if (!this.finished && this.maskers !== null) {
      for (const stream of ['stdout', 'stderr'] as const) this.deliver(stream, this.maskers[stream].flush());
    }
    this.finished = true;
    const note = maskText(suffix, this.maskValues);
    if (note.length > 0) this.writer?.write('stdout', Buffer.from(note, 'utf8'));
    this.writer?.end();
    const tail = this.tailBuffer().render(this.prefix);
    return { ...tail, text: tail.text + note };
  }

  private deliver(stream: OutputStreamName, data: Buffer): boolean {
    if (data.length === 0) return true;
    this.tailBuffer().push(data);
    return this.writer?.write(stream, data) ?? true;
  }

  private tailBuffer(): TailBuffer {
    this.tail ??= new TailBuffer(this.tailBytesMax);
    return this.tail;
  }
}
