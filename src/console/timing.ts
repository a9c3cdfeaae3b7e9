// The polling rhythm of live updates (pure, unit-tested under Node).

export const POLL_MS = 2000;
/** 8 s at most between tries keeps a leader change visible within api.md's 10 s. */
export const POLL_MS_MAX = 8000;

/** The wait after `failures` failed polls in a row: doubling from the base, capped. */
export function backoffMs(failures: number, baseMs: number = POLL_MS, maxMs: number = POLL_MS_MAX): number {
  return Math.min(maxMs, baseMs * 2 ** Math.min(Math.max(failures, 0), 10));
}
