/**
 * Errors the agent answers with. Each has a stable `code`; the API maps codes to HTTP
 * statuses in one table. Broken invariants are AssertionErrors, never ChimeErrors.
 */
export type ChimeErrorCode =
  | 'NOT_LEADER'
  | 'NO_LEADER'
  | 'PROPOSALS_FULL'
  | 'PROPOSAL_DROPPED'
  | 'LEADERSHIP_LOST'
  | 'TIMEOUT'
  | 'TRANSFER_IN_PROGRESS'
  | 'CONF_CHANGE_PENDING'
  | 'CONF_CHANGE_INVALID'
  | 'READS_FULL'
  | 'SHUTTING_DOWN'
  | 'INVALID_REQUEST'
  | 'NOT_FOUND';

export class ChimeError extends Error {
  constructor(
    readonly code: ChimeErrorCode,
    message: string,
    readonly leader: string | null = null,
  ) {
    super(message);
    this.name = 'ChimeError';
  }
}
