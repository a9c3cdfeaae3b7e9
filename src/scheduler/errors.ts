// Errors the scheduler hands to the agent. Codes are stable; the agent maps them to its own
// error table (NOT_LEADER → 503 with Retry-After, JOB_NOT_FOUND → 404, the rest 4xx/503).
export const SCHEDULER_ERROR_CODES = ['NOT_LEADER', 'JOB_NOT_FOUND', 'QUEUE_FULL', 'WAITERS_FULL', 'INVALID_INPUT', 'FIRE_REJECTED'] as const;
export type SchedulerErrorCode = (typeof SCHEDULER_ERROR_CODES)[number];

export class SchedulerError extends Error {
  constructor(readonly code: SchedulerErrorCode, message: string) {
    super(message);
    this.name = 'SchedulerError';
  }
}
