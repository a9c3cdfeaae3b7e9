/** Why the storage refused: stable codes the agent can log and act on. */
export type StorageErrorCode =
  /** The directory was written by a format this code does not know. */
  | 'FORMAT_UNKNOWN'
  /** What is on disk breaks an invariant (a gap, a torn record, a commit beyond the log). */
  | 'CORRUPT'
  /** A write failed earlier; the cache and the disk may disagree, so nothing more is accepted. */
  | 'FAILED'
  | 'CLOSED'
  /** More writes were queued than the limit allows. */
  | 'QUEUE_FULL';

export class StorageError extends Error {
  readonly code: StorageErrorCode;

  constructor(code: StorageErrorCode, message: string, options?: { cause: unknown }) {
    super(`${code}: ${message}`, options);
    this.name = 'StorageError';
    this.code = code;
  }
}
