import assert from 'node:assert/strict';

/** The rendered tail: `text` starts with the truncation marker when bytes were cut. */
export interface Tail {
  readonly text: string;
  readonly truncated: boolean;
  readonly truncatedBytes: number;
}

/** Marker put in front of a tail whose beginning was cut; N counts the bytes dropped. */
export function truncationMarker(droppedBytes: number): string {
  return `…[truncated ${droppedBytes} bytes]\n`;
}

/**
 * Keeps the last `capacityBytes` bytes of a stream. It holds a list of chunks and drops whole
 * chunks from the front once the rest still covers the capacity, so memory never exceeds the
 * capacity plus one chunk, however much the stream produces.
 */
export class TailBuffer {
  private chunks: Buffer[] = [];
  private heldBytes = 0;
  private droppedBytes = 0;

  constructor(readonly capacityBytes: number) {
    assert.ok(Number.isSafeInteger(capacityBytes) && capacityBytes >= 0, 'tail capacity must be a non-negative integer');
  }

  get totalBytes(): number {
    return this.droppedBytes + this.heldBytes;
  }

  push(chunk: Buffer): void {
    if (chunk.length === 0) return;
    if (chunk.length >= this.capacityBytes) {
      // Copy the tail so the big chunk itself can be collected.
      this.droppedBytes += this.heldBytes + chunk.length - this.capacityBytes;
      this.chunks = this.capacityBytes > 0 ? [Buffer.from(chunk.subarray(chunk.length - this.capacityBytes))] : [];
      this.heldBytes = this.capacityBytes;
      return;
    }
    this.chunks.push(chunk);
    this.heldBytes += chunk.length;
    for (;;) {
      const first = this.chunks[0];
      if (first === undefined || this.heldBytes - first.length < this.capacityBytes) break;
      this.chunks.shift();
      this.heldBytes -= first.length;
      this.droppedBytes += first.length;
    }
    const firstBytes = this.chunks[0]?.length ?? 0;
    assert.ok(this.heldBytes - firstBytes < this.capacityBytes, 'the tail holds less than the capacity beyond its first chunk');
  }

  /** The kept bytes as UTF-8, `prefix` first, then the marker if anything was cut. */
  render(prefix = ''): Tail {
    const all = Buffer.concat(this.chunks, this.heldBytes);
    let start = Math.max(0, all.length - this.capacityBytes);
    let dropped = this.droppedBytes + start;
    // A cut can land inside a multi-byte character; skip its continuation bytes so the
    // tail begins on a whole character.
    if (dropped > 0) {
      let skipped = 0;
      while (skipped < 3 && start < all.length && ((all[start] ?? 0) & 0xc0) === 0x80) {
        start++;
        skipped++;
      }
      dropped += skipped;
    }
    const body = all.subarray(start).toString('utf8');
    const truncated = dropped > 0;
    return { text: prefix + (truncated ? truncationMarker(dropped) : '') + body, truncated, truncatedBytes: dropped };
  }
}
