// What a starting store makes of the runs an earlier process left on disk.
//
// An attempt directory with a readable header whose end record agrees with the file sizes is
// taken as it is. One without (the writer died: crash, kill -9, power loss) is repaired and
// kept readable, since the output of a run that was lost is what one wants to look at:
// - order entries are trusted only as far as both data files back them (data is written
//   before its entries, but after a machine crash either may be missing); the first entry
//   that is not a valid entry or not fully backed is clipped to what is there and ends the
//   index;
// - the order file and both data files are cut to exactly what the kept entries cover, so
//   `stdout`, `stderr` and `both` show the same bytes;
// - an end record with `recovered: true` is written.
// A directory whose header is missing, unreadable or names another run is removed, as is
// anything else inside a run directory that is not an attempt directory.
import { constants } from 'node:fs';
import { open, readdir, readFile, rm, rmdir, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { OUTPUT_ORDER_READ_ENTRIES } from './limits.js';
import { OutputEntry } from './output-entry.js';
import {
  ORDER_ENTRY_BYTES, OUTPUT_FILES, OUTPUT_FORMAT_VERSION, OUTPUT_RECORD_BYTES_MAX, STORED_OUTPUT_MARKER_BYTES_MAX, encodeEnd, endsWithStoredOutputMarker,
  parseAttemptDirName, parseEnd, parseHeader, readOrderEntry, runDirName, writeOrderEntry, type OutputEnd, type OutputHeader,
} from './output-format.js';
import { runKey } from './run-key.js';
import type { OutputStreamName } from './types.js';

export interface RecoveredRuns {
  readonly entries: OutputEntry[];
  /** Attempts that were half-written and repaired. */
  readonly repaired: number;
  /** Directories removed as unreadable. */
  readonly removed: number;
}

/**
 * Recovers every attempt in one run directory. `isCurrent` says whether this process already
 * writes that (runId, attempt): such a directory belongs to its writer and is not touched.
 */
export async function recoverRunDir(root: string, name: string, isCurrent: (key: string) => boolean, nowMs: number): Promise<RecoveredRuns> {
  const runPath = join(root, name);
  const result: { entries: OutputEntry[]; repaired: number; removed: number } = { entries: [], repaired: 0, removed: 0 };
  let names: string[];
  try {
    names = await readdir(runPath);
  } catch {
    return result;
  }
  let kept = 0;
  for (const attemptName of names) {
    const attempt = parseAttemptDirName(attemptName);
    const dir = join(runPath, attemptName);
    const found = attempt === null ? null : await recoverAttempt(root, name, attempt, isCurrent, nowMs);
    if (found === 'current') {
      kept++;
      continue;
    }
    if (found === null) {
      await rm(dir, { recursive: true, force: true });
      result.removed++;
      continue;
    }
    kept++;
    result.entries.push(found.entry);
    if (found.repaired) result.repaired++;
  }
  if (kept === 0) await rmdir(runPath).catch(() => undefined);
  return result;
}

/** Not 'a+': with O_APPEND, Linux ignores the position of a write (the clipped entry). */
const READ_WRITE_CREATE = constants.O_RDWR | constants.O_CREAT;

type Recovered = { entry: OutputEntry; repaired: boolean } | 'current' | null;

async function recoverAttempt(root: string, name: string, attempt: number, isCurrent: (key: string) => boolean, nowMs: number): Promise<Recovered> {
  const dir = join(root, name, String(attempt));
  const headerText = await readSmall(join(dir, OUTPUT_FILES.header));
  const header = headerText === null ? null : parseHeader(headerText);
  if (header === null || runDirName(header.runId) !== name || header.attempt !== attempt) return null;
  if (isCurrent(runKey(header.runId, attempt))) return 'current';
  const sizes = {
    stdout: await fileSize(join(dir, OUTPUT_FILES.stdout)),
    stderr: await fileSize(join(dir, OUTPUT_FILES.stderr)),
    order: await fileSize(join(dir, OUTPUT_FILES.order)),
  };
  const endText = await readSmall(join(dir, OUTPUT_FILES.end));
  let end = endText === null ? null : parseEnd(endText);
  let repaired = false;
  if (end === null || end.stdoutBytes !== sizes.stdout || end.stderrBytes !== sizes.stderr || end.orderBytes !== sizes.order) {
    end = await repairAttempt(dir, sizes, end, nowMs);
    repaired = true;
  }
  const entry = entryFrom(root, name, header, end);
  entry.storedBytes = Buffer.byteLength(headerText ?? '') + end.stdoutBytes + end.stderrBytes + end.orderBytes + encodeEnd(end).length;
  return { entry, repaired };
}

function entryFrom(root: string, name: string, header: OutputHeader, end: OutputEnd): OutputEntry {
  const entry = new OutputEntry({ runId: header.runId, attempt: header.attempt, jobId: header.jobId, createdAtMs: header.createdAtMs, runDir: name, root, live: false });
  entry.committed = { stdout: end.stdoutBytes, stderr: end.stderrBytes, order: end.orderBytes };
  entry.endedAtMs = end.endedAtMs;
  entry.truncated = end.truncated;
  entry.droppedBytes = { stdout: end.droppedStdoutBytes, stderr: end.droppedStderrBytes };
  entry.writeError = end.writeError;
  entry.recovered = end.recovered;
  return entry;
}

/** Cuts the index and both data files to what they agree on, then writes the end record. */
async function repairAttempt(dir: string, sizes: Record<OutputStreamName | 'order', number>, previous: OutputEnd | null, nowMs: number): Promise<OutputEnd> {
  const backed = { stdout: 0, stderr: 0 };
  let orderBytes = 0;
  const order = await open(join(dir, OUTPUT_FILES.order), READ_WRITE_CREATE);
  try {
    const block = Buffer.alloc(OUTPUT_ORDER_READ_ENTRIES * ORDER_ENTRY_BYTES);
    let clipped = false;
    while (!clipped && orderBytes + ORDER_ENTRY_BYTES <= sizes.order) {
      const { bytesRead } = await order.read(block, 0, block.length, orderBytes);
      if (bytesRead < ORDER_ENTRY_BYTES) break;
      let offset = 0;
      for (; offset + ORDER_ENTRY_BYTES <= bytesRead; offset += ORDER_ENTRY_BYTES) {
        const segment = readOrderEntry(block, offset);
        if (segment === null) {
          clipped = true;
          break;
        }
        const room = sizes[segment.stream] - backed[segment.stream];
        if (segment.bytes <= room) {
          backed[segment.stream] += segment.bytes;
          continue;
        }
        // Only part of this stretch reached the disk: keep that part, end the index here.
        clipped = true;
        if (room > 0) {
          const entry = Buffer.alloc(ORDER_ENTRY_BYTES);
          writeOrderEntry(entry, 0, { stream: segment.stream, bytes: room });
          await order.write(entry, 0, ORDER_ENTRY_BYTES, orderBytes + offset);
          backed[segment.stream] += room;
          offset += ORDER_ENTRY_BYTES;
        }
        break;
      }
      orderBytes += offset;
    }
    await order.truncate(orderBytes);
  } finally {
    await order.close();
  }
  let truncated = false;
  for (const stream of ['stdout', 'stderr'] as const) {
    const file = await open(join(dir, OUTPUT_FILES[stream]), READ_WRITE_CREATE);
    try {
      await file.truncate(backed[stream]);
      // The end record that would say so is missing; the marker the writer left says it too.
      const lastBytes = Buffer.alloc(Math.min(backed[stream], STORED_OUTPUT_MARKER_BYTES_MAX));
      await file.read(lastBytes, 0, lastBytes.length, backed[stream] - lastBytes.length);
      truncated ||= endsWithStoredOutputMarker(lastBytes, stream);
    } finally {
      await file.close();
    }
  }
  const end: OutputEnd = {
    v: OUTPUT_FORMAT_VERSION, endedAtMs: previous?.endedAtMs ?? nowMs, stdoutBytes: backed.stdout, stderrBytes: backed.stderr, orderBytes,
    truncated: (previous?.truncated ?? false) || truncated, droppedStdoutBytes: previous?.droppedStdoutBytes ?? 0, droppedStderrBytes: previous?.droppedStderrBytes ?? 0,
    writeError: previous?.writeError ?? null, recovered: true,
  };
  await writeFile(join(dir, OUTPUT_FILES.end), encodeEnd(end));
  return end;
}

async function fileSize(path: string): Promise<number> {
  try {
    return (await stat(path)).size;
  } catch {
    return 0;
  }
}

/** A small record file's text, or null when it is missing or too large to be one of ours. */
async function readSmall(path: string): Promise<string | null> {
  try {
    if ((await stat(path)).size > OUTPUT_RECORD_BYTES_MAX) return null;
    return await readFile(path, 'utf8');
  } catch {
    return null;
  }
}
