// The output store's layout on disk: directory names, the header and end records and the
// order index. Pure: no I/O here.
//
//   <outputDir>/<run dir>/<attempt>/run.json   header {v, runId, attempt, jobId, createdAtMs}
//                                   stdout     the stream's bytes (masked), nothing else
//                                   stderr     idem
//                                   order      8-byte entries [stream, 0, 0, 0, u32 LE length]:
//                                              which stream the next `length` bytes came from
//                                   end.json   written once the run ended and everything above
//                                              was written; its absence means the writer died
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import type { OutputStreamName } from './types.js';
import { isMap } from '../guards/index.js';

export const OUTPUT_FORMAT_VERSION = 1;
export const OUTPUT_FILES = { header: 'run.json', stdout: 'stdout', stderr: 'stderr', order: 'order', end: 'end.json' } as const;
export const OUTPUT_STREAMS: readonly OutputStreamName[] = ['stdout', 'stderr'];
export const ORDER_ENTRY_BYTES = 8;
/** One order entry's length field is a u32. */
export const ORDER_SEGMENT_BYTES_MAX = 0xffff_ffff;
/** A header or end record larger than this was not written by this code; ours are < 1 KiB. */
export const OUTPUT_RECORD_BYTES_MAX = 64 * 1024;

const STREAM_TAGS: Readonly<Record<OutputStreamName, number>> = { stdout: 1, stderr: 2 };
/** Run ids that can be a directory name as they are (no '/', no leading '.', short). */
const PLAIN_RUN_DIR = /^[A-Za-z0-9_-][A-Za-z0-9._-]{0,127}$/;
const ATTEMPT_DIR = /^[1-9][0-9]{0,15}$/;

/**
 * The directory of a run's attempts. Any run id is valid input (it comes from the leader);
 * one that is not a plain name becomes `~` + its sha256, and `~` never starts a plain name,
 * so two run ids never share a directory. The header keeps the real id.
 */
export function runDirName(runId: string): string {
  return PLAIN_RUN_DIR.test(runId) ? runId : `~${createHash('sha256').update(runId, 'utf8').digest('hex')}`;
}

export function parseAttemptDirName(name: string): number | null {
  if (!ATTEMPT_DIR.test(name)) return null;
  const attempt = Number(name);
  return Number.isSafeInteger(attempt) ? attempt : null;
}

export interface OutputHeader {
  readonly v: number;
  readonly runId: string;
  readonly attempt: number;
  readonly jobId: string;
  readonly createdAtMs: number;
}

export interface OutputEnd {
  readonly v: number;
  readonly endedAtMs: number;
  readonly stdoutBytes: number;
  readonly stderrBytes: number;
  readonly orderBytes: number;
  /** The run's output reached its limit: the files stop there, each cut stream with a marker. */
  readonly truncated: boolean;
  /** Bytes not stored per stream (beyond the limit, or after a write error). */
  readonly droppedStdoutBytes: number;
  readonly droppedStderrBytes: number;
  readonly writeError: string | null;
  /** Written by a later process that found the run half-written (see output-recovery.ts). */
  readonly recovered: boolean;
}

export function encodeHeader(header: Omit<OutputHeader, 'v'>): Buffer {
  return Buffer.from(JSON.stringify({ v: OUTPUT_FORMAT_VERSION, ...header }) + '\n', 'utf8');
}

export function encodeEnd(end: Omit<OutputEnd, 'v'>): Buffer {
  return Buffer.from(JSON.stringify({ v: OUTPUT_FORMAT_VERSION, ...end }) + '\n', 'utf8');
}

function parseObject(text: string): Record<string, unknown> | null {
  try {
    const value: unknown = JSON.parse(text);
    return isMap(value) ? value : null;
  } catch {
    return null;
  }
}

function isCount(value: unknown): value is number {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 0;
}

export function parseHeader(text: string): OutputHeader | null {
  const value = parseObject(text);
  if (value === null || value['v'] !== OUTPUT_FORMAT_VERSION) return null;
  const { runId, attempt, jobId, createdAtMs } = value;
  if (typeof runId !== 'string' || runId.length === 0 || typeof jobId !== 'string') return null;
  if (!isCount(attempt) || attempt < 1 || !isCount(createdAtMs)) return null;
  return { v: OUTPUT_FORMAT_VERSION, runId, attempt, jobId, createdAtMs };
}

export function parseEnd(text: string): OutputEnd | null {
  const value = parseObject(text);
  if (value === null || value['v'] !== OUTPUT_FORMAT_VERSION) return null;
  const { endedAtMs, stdoutBytes, stderrBytes, orderBytes, truncated, droppedStdoutBytes, droppedStderrBytes, writeError, recovered } = value;
  if (!isCount(endedAtMs) || !isCount(stdoutBytes) || !isCount(stderrBytes) || !isCount(orderBytes)) return null;
  if (!isCount(droppedStdoutBytes) || !isCount(droppedStderrBytes)) return null;
  if (typeof truncated !== 'boolean' || typeof recovered !== 'boolean') return null;
  if (writeError !== null && typeof writeError !== 'string') return null;
  return { v: OUTPUT_FORMAT_VERSION, endedAtMs, stdoutBytes, stderrBytes, orderBytes, truncated, droppedStdoutBytes, droppedStderrBytes, writeError, recovered };
}

export interface OrderSegment {
  readonly stream: OutputStreamName;
  readonly bytes: number;
}

export function encodeOrderEntries(segments: readonly OrderSegment[]): Buffer {
  const out = Buffer.alloc(segments.length * ORDER_ENTRY_BYTES);
  segments.forEach((segment, i) => writeOrderEntry(out, i * ORDER_ENTRY_BYTES, segment));
  return out;
}

export function writeOrderEntry(target: Buffer, offset: number, segment: OrderSegment): void {
  assert.ok(segment.bytes > 0 && segment.bytes <= ORDER_SEGMENT_BYTES_MAX, 'an order entry covers 1..2^32-1 bytes');
  target.fill(0, offset, offset + ORDER_ENTRY_BYTES);
  target.writeUInt8(STREAM_TAGS[segment.stream], offset);
  target.writeUInt32LE(segment.bytes, offset + 4);
}

/** The entry at `offset`, or null when those bytes are not an entry this code writes. */
export function readOrderEntry(source: Buffer, offset: number): OrderSegment | null {
  if (offset + ORDER_ENTRY_BYTES > source.length) return null;
  const tag = source.readUInt8(offset);
  if (source.readUInt8(offset + 1) !== 0 || source.readUInt8(offset + 2) !== 0 || source.readUInt8(offset + 3) !== 0) return null;
  const bytes = source.readUInt32LE(offset + 4);
  if (bytes === 0) return null;
  if (tag === STREAM_TAGS.stdout) return { stream: 'stdout', bytes };
  if (tag === STREAM_TAGS.stderr) return { stream: 'stderr', bytes };
  return null;
}

/**
 * Written into a stream's file where the run's output reached its limit; the file does not
 * grow after it. On top of the limit, like the tail's marker; at most one per stream.
 */
export function storedOutputMarker(stream: OutputStreamName, runBytesMax: number): string {
  return `\n…[output limit of ${runBytesMax} bytes reached: the rest of ${stream} is not stored]\n`;
}

/** Longer than any marker: how much of a stream's end to read to find one. */
export const STORED_OUTPUT_MARKER_BYTES_MAX = 160;
const MARKER_AT_END = /\n…\[output limit of \d+ bytes reached: the rest of (stdout|stderr) is not stored\]\n$/;

/** Whether a stream's last bytes are its limit marker (a repair learns `truncated` from it). */
export function endsWithStoredOutputMarker(lastBytes: Buffer, stream: OutputStreamName): boolean {
  return MARKER_AT_END.exec(lastBytes.toString('utf8'))?.[1] === stream;
}
