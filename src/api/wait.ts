// `?wait=` of a manual run: how long the leader holds the answer. The route reads it, and so
// does the forward channel, whose deadline for the answer grows by it.

export const WAIT_MS_MAX = 15 * 60_000;

/** Parses `30s`, `2m`, `1500ms`, `1h` (one unit) into milliseconds. */
export function parseWait(text: string): number | null {
  const m = /^(\d{1,7})(ms|s|m|h)$/.exec(text);
  if (m === null) return null;
  const unitMs = m[2] === 'ms' ? 1 : m[2] === 's' ? 1000 : m[2] === 'm' ? 60_000 : 3_600_000;
  return Number(m[1]) * unitMs;
}
