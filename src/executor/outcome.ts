// How a run's end becomes a report's status and error. Pure, apart from lostError's kill.
import type { RunProcess } from './journal-records.js';
import { processStartTime, signalGroup } from './process-group.js';
import type { RunOutcome } from './run-handle.js';
import type { FinishedStatus, KillReason } from './types.js';

export interface KillState {
  readonly reason: KillReason;
  readonly note: string;
}

export const KILL_NOTES: Readonly<Record<KillReason, string>> = {
  request: 'killed by request',
  timeout: 'timed out',
  replace: 'killed to start a newer run (concurrency: replace)',
};

/**
 * A run's process group outlives a crashed executor (it is detached). Kill it before the run
 * is reported lost, so a retry never overlaps it; the start time guards against pid reuse.
 */
export function lostError(leftover: RunProcess | null): string {
  if (leftover === null || processStartTime(leftover.pid) !== leftover.startTime) return 'executor restarted';
  return signalGroup(leftover.pid, 'SIGKILL') === 'sent'
    ? 'executor restarted; the run\'s leftover process group was killed'
    : 'executor restarted; the run\'s leftover process group could not be killed';
}

export function finishedStatus(run: { readonly kill: KillState | null }, outcome: RunOutcome): FinishedStatus {
  if (run.kill !== null) return run.kill.reason === 'timeout' ? 'timed_out' : 'killed';
  return outcome.ok ? 'succeeded' : 'failed';
}

export function finishedError(run: { readonly kill: KillState | null }, outcome: RunOutcome): string | null {
  if (run.kill === null) return outcome.error;
  return outcome.error === null ? run.kill.note : `${run.kill.note} (${outcome.error})`;
}
