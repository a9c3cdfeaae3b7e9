// Retry backoff: doubling from backoffMs, capped at maxBackoffMs, scaled by jitter so that
// many runs failing together do not retry together. Measured from the run's finishedAt (a
// replicated time), so a new leader continues the wait where the old one stopped.
import type { Retry } from '../statemachine/index.js';

/** Delay before retrying after `failedAttempt` (1-based) failed. */
export function retryDelayMs(retry: Retry, failedAttempt: number, jitter: number, random: () => number): number {
  const doubled = retry.backoffMs * 2 ** Math.min(30, Math.max(0, failedAttempt - 1));
  const base = Math.min(retry.maxBackoffMs, doubled);
  return Math.max(0, Math.round(base * (1 + jitter * (2 * random() - 1))));
}
