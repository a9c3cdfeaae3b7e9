// Replaces secret values in a run's output with `***` as the output streams by. Pure: no I/O.
import assert from 'node:assert/strict';

/** What a masked value becomes, in the tail, the stored files and every stream. */
export const MASK_TEXT = '***';
const MASK = Buffer.from(MASK_TEXT);
const EMPTY = Buffer.alloc(0);
/**
 * Positions per chunk checked for "the rest of the chunk begins a value" before the masker
 * gives up and holds back from there (always safe, only later): bounds the CPU a chunk full of
 * near-misses can cost to this × values × longest bytes compared.
 */
const PREFIX_CHECKS_MAX = 32;

/**
 * Masks one stream (stdout or stderr) chunk by chunk. Matches are found leftmost first (the
 * longest value wins at one position) and never overlap, exactly as if the whole stream had
 * been masked at once. A value may be split across two chunks, so the masker holds back (the
 * carry) the end of a chunk from the first position whose remaining bytes are the beginning of
 * some value — at most `longest − 1` bytes — until the next chunk or `flush()` decides them.
 * Output that does not end in the beginning of a secret is passed on whole, at once.
 *
 * Memory: the carry, at most `longest − 1` bytes, plus one chunk while it is worked on.
 */
export class StreamMasker {
  private readonly values: readonly Buffer[];
  /** Longest value in bytes; 0 when there is nothing to mask. */
  private readonly longestBytes: number;
  /** firstBytes[b] = 1 when some value begins with byte b: a match can start only there. */
  private readonly firstBytes = new Uint8Array(256);
  private carry: Buffer = EMPTY;

  constructor(values: readonly string[]) {
    const unique = [...new Set(values)].filter((v) => v.length > 0).map((v) => Buffer.from(v, 'utf8'));
    // Longest first: at one position the first match found is the longest one.
    this.values = unique.sort((a, b) => b.length - a.length);
    this.longestBytes = this.values[0]?.length ?? 0;
    for (const value of this.values) this.firstBytes[value[0] ?? 0] = 1;
  }

  get carryBytes(): number {
    return this.carry.length;
  }

  /** The masked bytes that are safe to pass on now (possibly empty). */
  push(chunk: Buffer): Buffer {
    if (this.longestBytes === 0) return chunk;
    const data = this.carry.length === 0 ? chunk : Buffer.concat([this.carry, chunk]);
    // A match that starts before `window` ends within `data`: it can be decided now. From
    // there on, so can every position whose rest does not begin a value.
    const window = data.length - (this.longestBytes - 1);
    const { out, end } = maskUpTo(data, this.values, this.undecidedFrom(data, window));
    // Copied, so a large chunk is not kept alive by its last few bytes.
    this.carry = end < data.length ? Buffer.from(data.subarray(end)) : EMPTY;
    assert.ok(this.carry.length < this.longestBytes, 'the carry is shorter than the longest value');
    return out;
  }

  /**
   * The first position at or after `window` where the rest of `data` is a proper beginning of
   * some value (a match may start there and end in the next chunk); data.length if none.
   */
  private undecidedFrom(data: Buffer, window: number): number {
    let checks = 0;
    for (let at = Math.max(0, window); at < data.length; at++) {
      if (this.firstBytes[data[at] ?? 0] === 0) continue;
      if (checks++ >= PREFIX_CHECKS_MAX) return at;
      const restBytes = data.length - at;
      for (const value of this.values) {
        if (value.length > restBytes && data.compare(value, 0, restBytes, at, data.length) === 0) return at;
      }
    }
    return data.length;
  }

  /** The end of the stream: masks and returns what the carry held. */
  flush(): Buffer {
    const data = this.carry;
    this.carry = EMPTY;
    if (data.length === 0) return EMPTY;
    return maskUpTo(data, this.values, data.length).out;
  }
}

/**
 * Masks every match that starts before `decidedBefore` (the caller knows each of them is
 * decided) and returns the masked bytes up to `end` = max(decidedBefore, end of the last
 * match): the bytes from `end` on are not decided.
 */
function maskUpTo(data: Buffer, values: readonly Buffer[], decidedBefore: number): { out: Buffer; end: number } {
  const parts: Buffer[] = [];
  let emitted = 0;
  // Next occurrence of each value at or after `emitted`; -1 once there is none left in data.
  const next = values.map((value) => data.indexOf(value));
  for (;;) {
    let best = -1;
    let bestAt = Number.POSITIVE_INFINITY;
    for (let i = 0; i < values.length; i++) {
      let at = next[i] ?? -1;
      if (at >= 0 && at < emitted) {
        at = data.indexOf(values[i] ?? EMPTY, emitted);
        next[i] = at;
      }
      if (at >= 0 && at < bestAt) {
        best = i;
        bestAt = at;
      }
    }
    if (best < 0 || bestAt >= decidedBefore) break;
    parts.push(data.subarray(emitted, bestAt), MASK);
    emitted = bestAt + (values[best]?.length ?? 0);
  }
  const end = Math.min(data.length, Math.max(decidedBefore, emitted));
  if (parts.length === 0) return { out: data.subarray(0, end), end };
  parts.push(data.subarray(emitted, end));
  return { out: Buffer.concat(parts), end };
}

/** Masks a whole text at once (a status line, a note): no carry needed. */
export function maskText(text: string, values: readonly string[]): string {
  if (values.length === 0) return text;
  const masker = new StreamMasker(values);
  return Buffer.concat([masker.push(Buffer.from(text, 'utf8')), masker.flush()]).toString('utf8');
}
