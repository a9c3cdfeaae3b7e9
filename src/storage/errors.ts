// Storage refusals are ChimeErrors with the storage codes of src/errors: FORMAT_UNKNOWN (a
// directory of a format this build does not read), CORRUPT (what is on disk breaks an
// invariant: a gap, a torn record, a commit beyond the log), FAILED (a write failed earlier;
// the cache and the disk may disagree, so nothing more is accepted), CLOSED and
// STORAGE_QUEUE_FULL.
import { ChimeError } from '../errors/index.js';

export function corrupt(detail: string, cause?: unknown): ChimeError {
  return new ChimeError('CORRUPT', detail, cause === undefined ? {} : { cause });
}

/** The errno code of a failed system call (`ENOENT`…), or undefined for any other error. */
export function errnoCode(error: unknown): string | undefined {
  return error instanceof Error && 'code' in error && typeof error.code === 'string' ? error.code : undefined;
}
