// The job section of a version-2 snapshot: every job in id order as a compact binary
// record, written into one buffer of exactly the right size (a million jobs make ~200 MB,
// so the encoder never holds a second copy) and read back without intermediate rows.
//
// Record: varint-prefixed UTF-8 id; varint flags (1 enabled, 2 has lastScheduledAt, 16 has updatedBy,
// 4 has nextFireAt, 8 never updated); schedule, zone and the shared spec part as
// references into a string table built in record order (index = table size means "a new
// string follows"), so each distinct one is written and checked once; the varint-prefixed
// packed spec;
// varints createdAt, createRevision, then updatedAt and revision unless never updated,
// then lastScheduledAt and nextFireAt if present, then updatedBy as a string-table reference
// if present (flag 16; added after version 2 was defined, absent in older sections). Varints are little-endian base-128 of
// non-negative safe integers.
import { assert, itemAt } from './assert.js';
import { intern } from './defaults.js';
import { JobState } from './job-record.js';
import { internShared, packedProblem, sharedExecutorType, sharedTraits } from './packed-spec.js';
import { withEnabled } from './traits.js';
import type { JobsById } from './jobs-by-id.js';
import { SCHEDULE_CHARS_MAX, TIMEZONE_CHARS_MAX } from './limits.js';
import { bad } from './snapshot-rows.js';
import { isKnownZone } from './tz.js';
import { isValidJobId } from './validate.js';

const ENABLED = 1;
const HAS_LAST = 2;
const HAS_NEXT = 4;
/** updatedAt equals createdAt, revision equals createRevision: true of most jobs, so not written. */
const NEVER_UPDATED = 8;
const HAS_UPDATED_BY = 16;
/** An actor name as the audit log keeps it. */
const UPDATED_BY_CHARS_MAX = 64;
/** Counts bytes (when `bytes` is null) or writes them: the same code sizes and fills the buffer. */
class Out {
  pos = 0;
  private readonly table = new Map<string, number>();
  private lengthAt = 0;
  /** A Buffer view of the target: its UTF-8 writer needs no view per string (TextEncoder's does). */
  private readonly buffer: Buffer | null;
  constructor(private readonly bytes: Uint8Array | null, private readonly lengths: Uint32Array) {
    this.buffer = bytes === null ? null : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }

  varint(value: number): void {
    if (!Number.isSafeInteger(value) || value < 0) assert(false, `snapshot varint ${value} is not a non-negative safe integer`);
    let v = value;
    while (v >= 0x80) {
      if (this.bytes !== null) this.bytes[this.pos] = (v % 0x80) | 0x80;
      this.pos++;
      v = Math.floor(v / 0x80);
    }
    if (this.bytes !== null) this.bytes[this.pos] = v;
    this.pos++;
  }

  /** A string; its UTF-8 length is measured in the sizing pass and reused in the writing pass. */
  string(text: string): void {
    let length: number;
    if (this.bytes === null) {
      length = Buffer.byteLength(text, 'utf8');
      this.lengths[this.lengthAt++] = length;
    } else {
      length = itemAt(this.lengths, this.lengthAt++);
    }
    this.varint(length);
    if (this.buffer !== null && this.buffer.write(text, this.pos, length, 'utf8') !== length) assert(false, 'a string fills its measured length');
    this.pos += length;
  }

  tableString(text: string): void {
    const known = this.table.get(text);
    if (known !== undefined) return this.varint(known);
    this.varint(this.table.size);
    this.table.set(text, this.table.size);
    this.string(text);
  }
}

function writeJob(out: Out, job: JobState): void {
  out.string(job.id);
  const neverUpdated = job.updatedAt === job.createdAt && job.revision === job.createRevision;
  out.varint((job.enabled ? ENABLED : 0) | (job.lastScheduledAt !== null ? HAS_LAST : 0) | (job.nextFireAt !== null ? HAS_NEXT : 0) | (neverUpdated ? NEVER_UPDATED : 0)
    | (job.updatedBy !== null ? HAS_UPDATED_BY : 0));
  out.tableString(job.schedule);
  out.tableString(job.timezone);
  out.tableString(job.shared);
  out.string(job.packed);
  out.varint(job.createdAt);
  out.varint(job.createRevision);
  if (!neverUpdated) {
    out.varint(job.updatedAt);
    out.varint(job.revision);
  }
  if (job.lastScheduledAt !== null) out.varint(job.lastScheduledAt);
  if (job.nextFireAt !== null) out.varint(job.nextFireAt);
  if (job.updatedBy !== null) out.tableString(job.updatedBy);
}

/** Two passes over the jobs: size, then write into `allocate(size)` at `offset`. Returns the section's byte length. */
/** Jobs written between two yields of writeJobSectionSteps (a few ms of work). */
export const JOBS_PER_STEP = 4096;

/**
 * writeJobSection in steps: yields after every JOBS_PER_STEP jobs of either pass, so a caller
 * can give the event loop a turn. The jobs must not change until it returns.
 */
export function* writeJobSectionSteps(jobs: JobsById, allocate: (sectionBytes: number) => { bytes: Uint8Array; offset: number }): Generator<void, number, void> {
  const size = jobs.size;
  // Two string lengths per job plus the string table's new entries.
  const lengths = new Uint32Array(size * 4 + 16);
  const sizer = new Out(null, lengths);
  let written = 0;
  for (const job of jobs.valuesAfter()) {
    writeJob(sizer, job);
    if (++written % JOBS_PER_STEP === 0) yield;
  }
  const target = allocate(sizer.pos);
  const writer = new Out(target.bytes.subarray(target.offset, target.offset + sizer.pos), lengths);
  for (const job of jobs.valuesAfter()) {
    writeJob(writer, job);
    if (++written % JOBS_PER_STEP === 0) yield;
  }
  assert(jobs.size === size && writer.pos === sizer.pos, 'the jobs did not change between the sizing and the writing pass');
  return sizer.pos;
}

export function writeJobSection(jobs: JobsById, allocate: (sectionBytes: number) => { bytes: Uint8Array; offset: number }): number {
  return drainSteps(writeJobSectionSteps(jobs, allocate));
}

/** Runs a stepwise computation to its end at once. */
export function drainSteps<T>(steps: Generator<void, T, void>): T {
  for (;;) {
    const step = steps.next();
    if (step.done === true) return step.value;
  }
}

class In {
  pos = 0;
  readonly table: string[] = [];
  /** What the check said about each table entry (the traits of a shared part). */
  readonly facts: number[] = [];
  /** A Buffer view: its UTF-8 reader makes flat strings and needs no view object per string. */
  private readonly buffer: Buffer;
  constructor(private readonly bytes: Uint8Array) {
    this.buffer = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }

  varint(): number {
    let value = 0;
    let scale = 1;
    for (let i = 0; i < 8; i++) {
      const byte = this.bytes[this.pos++];
      if (byte === undefined) throw bad('the job section is truncated');
      value += (byte & 0x7f) * scale;
      if (byte < 0x80) {
        if (!Number.isSafeInteger(value)) break;
        return value;
      }
      scale *= 0x80;
    }
    throw bad('a number in the job section is out of range');
  }

  string(charsMax: number): string {
    const length = this.varint();
    if (length > charsMax * 3 || this.pos + length > this.bytes.length) throw bad('a string in the job section is too long or truncated');
    // Invalid UTF-8 (only a corrupt snapshot has any) decodes to U+FFFD and fails the checks after.
    const text = this.buffer.toString('utf8', this.pos, this.pos + length);
    this.pos += length;
    return text;
  }

  /** Index of a table string; a new one is read, checked (`check` returns a number or a problem) and added. */
  tableIndex(charsMax: number, check: (text: string) => number | string, what: string, shared: boolean): number {
    const index = this.varint();
    if (index < this.table.length) return index;
    if (index > this.table.length) throw bad(`a ${what} reference is out of range`);
    const text = this.string(charsMax);
    const fact = check(text);
    if (typeof fact === 'string') throw bad(`${what} ${JSON.stringify(text.slice(0, 100))}: ${fact}`);
    this.table.push(shared ? internShared(text) : intern(text));
    this.facts.push(fact);
    return index;
  }
}

const SPEC_PACKED_CHARS_MAX = 256 * 1024;

/** Reads `count` jobs from `bytes` (exactly the section), in id order. */
export function readJobSection(bytes: Uint8Array, count: number): JobState[] {
  const input = new In(bytes);
  const jobs: JobState[] = new Array<JobState>(count);
  let previousId = '';
  for (let i = 0; i < count; i++) {
    const id = input.string(128);
    if (!isValidJobId(id) || (i > 0 && id <= previousId)) throw bad(`job ${id} is not a valid id in order`);
    previousId = id;
    const flags = input.varint();
    // Schedules were validated when their job entered the log; parsing each distinct one
    // again here (~90 µs with cron-parser) would add seconds to a large restore.
    const schedule = itemAt(input.table, input.tableIndex(SCHEDULE_CHARS_MAX, (s) => s.length > 0 ? 0 : 'is empty', 'schedule', false));
    const timezone = itemAt(input.table, input.tableIndex(TIMEZONE_CHARS_MAX, (z) => isKnownZone(z) ? 0 : 'is not a known zone', 'time zone', false));
    const sharedAt = input.tableIndex(SPEC_PACKED_CHARS_MAX, sharedTraits, 'shared spec part', true);
    const shared = itemAt(input.table, sharedAt);
    const packed = input.string(SPEC_PACKED_CHARS_MAX);
    const problem = packedProblem(packed, sharedExecutorType(shared));
    if (problem !== null) throw bad(`job ${id}: ${problem}`);
    const traits = withEnabled(itemAt(input.facts, sharedAt), (flags & ENABLED) !== 0);
    const createdAt = input.varint();
    const createRevision = input.varint();
    const neverUpdated = (flags & NEVER_UPDATED) !== 0;
    const updatedAt = neverUpdated ? createdAt : input.varint();
    const revision = neverUpdated ? createRevision : input.varint();
    const last = (flags & HAS_LAST) !== 0 ? input.varint() : null;
    const next = (flags & HAS_NEXT) !== 0 ? input.varint() : null;
    const updatedBy = (flags & HAS_UPDATED_BY) !== 0
      ? itemAt(input.table, input.tableIndex(UPDATED_BY_CHARS_MAX, (s) => s.length > 0 ? 0 : 'is empty', 'updatedBy', false)) : null;
    const job = new JobState(id, packed, shared, schedule, timezone, traits, createdAt, updatedAt, createRevision, revision, last, next);
    if (updatedBy !== null) job.updatedBy = intern(updatedBy);
    jobs[i] = job;
  }
  if (input.pos !== bytes.length) throw bad('the job section has trailing bytes');
  return jobs;
}
