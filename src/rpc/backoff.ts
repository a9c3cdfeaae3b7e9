import assert from 'node:assert/strict';

export interface BackoffPolicy {
  readonly baseMs: number;
  readonly maxMs: number;
}

export const BACKOFF_DEFAULT: BackoffPolicy = { baseMs: 50, maxMs: 5_000 };

/**
 * Delay before reconnect attempt number `attempt` (0-based): doubling from `baseMs`, capped
 * at `maxMs`, then jittered into [half, full] so that peers that lost a node together do not
 * redial it in lockstep. `unit` is a random number in [0, 1).
 */
export function backoffDelayMs(policy: BackoffPolicy, attempt: number, unit: number): number {
  assert.ok(policy.baseMs >= 1 && policy.maxMs >= policy.baseMs, 'backoff needs 1 <= baseMs <= maxMs');
  assert.ok(attempt >= 0 && unit >= 0 && unit < 1);
  const ceiling = Math.min(policy.maxMs, policy.baseMs * 2 ** Math.min(attempt, 30));
  return Math.round(ceiling / 2 + (unit * ceiling) / 2);
}
