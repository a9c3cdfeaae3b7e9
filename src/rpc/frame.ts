import assert from 'node:assert/strict';
import { Buffer } from 'node:buffer';

/** Bytes of the big-endian length prefix in front of every frame. */
export const FRAME_HEADER_BYTES = 4;
/** Default largest payload: a 1 MiB snapshot chunk plus its message, with room to spare. */
export const FRAME_BYTES_MAX_DEFAULT = 8 << 20;

export function encodeFrame(payload: Uint8Array): Buffer {
  const frame = Buffer.allocUnsafe(FRAME_HEADER_BYTES + payload.length);
  frame.writeUInt32BE(payload.length, 0);
  frame.set(payload, FRAME_HEADER_BYTES);
  return frame;
}

export type DecodeResult = { readonly ok: true; readonly frames: Buffer[] } | { readonly ok: false; readonly frames: Buffer[]; readonly reason: string };

/**
 * Splits a byte stream into frame payloads. It holds at most one partial frame (bounded
 * by `frameBytesMax` plus the header) beyond the chunk just pushed; a length of zero or
 * above the limit is an error, after which the decoder accepts nothing more.
 */
export class FrameDecoder {
  private chunks: Buffer[] = [];
  private bufferedBytes = 0;
  private payloadBytes: number | null = null;
  private failed = false;

  constructor(private readonly frameBytesMax: number) {
    assert.ok(Number.isInteger(frameBytesMax) && frameBytesMax >= 1 && frameBytesMax < 2 ** 32, 'frameBytesMax must fit the 4-byte prefix');
  }

  /** Bytes held for an incomplete frame. */
  get buffered(): number {
    return this.bufferedBytes;
  }

  push(chunk: Buffer): DecodeResult {
    const frames: Buffer[] = [];
    if (this.failed) return { ok: false, frames, reason: 'decoder already failed' };
    if (chunk.length === 0) return { ok: true, frames };
    this.chunks.push(chunk);
    this.bufferedBytes += chunk.length;
    for (;;) {
      if (this.payloadBytes === null) {
        if (this.bufferedBytes < FRAME_HEADER_BYTES) break;
        const length = this.take(FRAME_HEADER_BYTES).readUInt32BE(0);
        if (length === 0 || length > this.frameBytesMax) {
          this.failed = true;
          this.chunks = [];
          this.bufferedBytes = 0;
          return { ok: false, frames, reason: `frame length ${length} outside [1, ${this.frameBytesMax}]` };
        }
        this.payloadBytes = length;
      }
      if (this.bufferedBytes < this.payloadBytes) break;
      frames.push(this.take(this.payloadBytes));
      this.payloadBytes = null;
    }
    return { ok: true, frames };
  }

  /**
   * The next `count` buffered bytes. A frame inside one chunk is a view of it (a socket
   * hands out a fresh buffer per read, so views stay valid); one spanning chunks is copied.
   */
  private take(count: number): Buffer {
    assert.ok(count <= this.bufferedBytes, 'take beyond the buffered bytes');
    this.bufferedBytes -= count;
    const head = this.firstChunk();
    if (head.length >= count) {
      if (head.length === count) this.chunks.shift();
      else this.chunks[0] = head.subarray(count);
      return head.subarray(0, count);
    }
    const out = Buffer.allocUnsafe(count);
    let filled = 0;
    while (filled < count) {
      const chunk = this.firstChunk();
      const used = Math.min(chunk.length, count - filled);
      chunk.copy(out, filled, 0, used);
      filled += used;
      if (used === chunk.length) this.chunks.shift();
      else this.chunks[0] = chunk.subarray(used);
    }
    return out;
  }

  /** The oldest buffered chunk; take() reads only bytes it knows are buffered, so one is. */
  private firstChunk(): Buffer {
    const chunk = this.chunks[0];
    if (chunk === undefined) assert.fail('a chunk is buffered');
    return chunk;
  }
}
