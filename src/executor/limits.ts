import assert from 'node:assert/strict';
import type { ExecutorLimits } from './types.js';

export const OUTPUT_BYTES_MAX_DEFAULT = 64 * 1024;
export const KILL_GRACE_MS_DEFAULT = 5_000;

export const LIMITS_DEFAULT: ExecutorLimits = {
  rememberedRunsMax: 16_384,
  outboxReportsMax: 1_024,
  idBytesMax: 256,
  payloadBytesMax: 64 * 1024,
  commandBytesMax: 64 * 1024,
  envEntriesMax: 256,
  envBytesMax: 128 * 1024,
  cwdBytesMax: 4_096,
  urlBytesMax: 8 * 1024,
  headersMax: 64,
  headerBytesMax: 16 * 1024,
  bodyBytesMax: 1024 * 1024,
  timeoutMsMax: 2_147_483_647,
  notBeforeLeadMsMax: 10 * 60 * 1000,
  httpBodyReadBytesMax: 16 * 1024 * 1024,
  journalCompactBytes: 8 * 1024 * 1024,
  maskValuesMax: 64,
  maskValueBytesMax: 4 * 1024,
  runOutputBytesMax: 16 * 1024 * 1024,
  nodeOutputBytesMax: 1024 * 1024 * 1024,
  nodeOutputRunsMax: 10_000,
  outputWriteQueueBytesMax: 256 * 1024,
  outputReadersMax: 256,
};

/** What one read of a stored output file returns at most: a reader holds no more than this. */
export const OUTPUT_READ_CHUNK_BYTES = 64 * 1024;
/** Order entries a `both` reader reads in one go (8 bytes each). */
export const OUTPUT_ORDER_READ_ENTRIES = 512;

export function resolveLimits(partial: Partial<ExecutorLimits> | undefined, slots: number): ExecutorLimits {
  const limits: ExecutorLimits = { ...LIMITS_DEFAULT, ...partial };
  for (const [name, value] of Object.entries(limits)) {
    assert.ok(Number.isSafeInteger(value) && value > 0, `executor limit ${name} must be a positive integer`);
  }
  assert.ok(limits.timeoutMsMax <= 2_147_483_647, 'timeoutMsMax must fit a timer');
  assert.ok(limits.notBeforeLeadMsMax <= 2_147_483_647, 'notBeforeLeadMsMax must fit a timer');
  // One write batch becomes order entries with a u32 length: keep a batch far below 4 GiB.
  assert.ok(limits.outputWriteQueueBytesMax <= 1024 * 1024 * 1024, 'outputWriteQueueBytesMax must be at most 1 GiB');
  // Dedupe must never forget a run that is still running or whose end is unacknowledged:
  // those number at most slots + outboxReportsMax, so a larger set always has a settled
  // entry to evict.
  assert.ok(limits.rememberedRunsMax > slots + limits.outboxReportsMax,
    'rememberedRunsMax must exceed slots + outboxReportsMax');
  return limits;
}
