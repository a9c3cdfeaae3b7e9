// Pure formatting for the console: no DOM, so the unit tests run it under Node as it is.

/** `950 ms`, `12.4 s`, `3 min 20 s`, `2 h 5 min`, `3 d 4 h`; `–` for null. */
export function formatDuration(ms: number | null | undefined): string {
  if (ms === null || ms === undefined || !Number.isFinite(ms)) return '–';
  const sign = ms < 0 ? '−' : '';
  const abs = Math.abs(ms);
  if (abs < 1000) return `${sign}${Math.round(abs)} ms`;
  if (abs < 60_000) return `${sign}${(abs / 1000).toFixed(abs < 10_000 ? 2 : 1)} s`;
  const s = Math.floor(abs / 1000);
  if (s < 3600) return `${sign}${Math.floor(s / 60)} min${s % 60 === 0 ? '' : ` ${s % 60} s`}`;
  if (s < 86_400) return `${sign}${Math.floor(s / 3600)} h${Math.floor((s % 3600) / 60) === 0 ? '' : ` ${Math.floor((s % 3600) / 60)} min`}`;
  return `${sign}${Math.floor(s / 86_400)} d${Math.floor((s % 86_400) / 3600) === 0 ? '' : ` ${Math.floor((s % 86_400) / 3600)} h`}`;
}

/** `in 12 s`, `3 min ago`, `now` relative to `nowMs`. */
export function formatRelative(ms: number | null, nowMs: number): string {
  if (ms === null || !Number.isFinite(ms)) return '–';
  const delta = ms - nowMs;
  if (Math.abs(delta) < 1000) return 'now';
  const text = formatDuration(Math.abs(delta)).replace(/\.\d+ s$/, ' s');
  return delta > 0 ? `in ${text}` : `${text} ago`;
}

/** One formatter per zone: building an Intl.DateTimeFormat costs far more than using one (a list of 200 rows formats 400 times). */
const FORMATTERS_MAX = 64;
const formatters = new Map<string, Intl.DateTimeFormat>();
function formatterFor(zone: string | undefined): Intl.DateTimeFormat {
  const key = zone ?? '';
  let f = formatters.get(key);
  if (f === undefined) {
    f = new Intl.DateTimeFormat('en-CA', { timeZone: zone, hourCycle: 'h23', year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit', second: '2-digit' });
    if (formatters.size < FORMATTERS_MAX) formatters.set(key, f);
  }
  return f;
}

/** An ISO time as `2026-11-24 01:30:05` in the given zone (the browser's own by default), or `–`. */
export function formatTime(iso: string | null | undefined, zone?: string): string {
  if (iso === null || iso === undefined || iso === '') return '–';
  const ms = Date.parse(iso);
  if (!Number.isFinite(ms)) return iso;
  const parts = formatterFor(zone).formatToParts(new Date(ms));
  const get = (type: string) => parts.find((p) => p.type === type)?.value ?? '';
  return `${get('year')}-${get('month')}-${get('day')} ${get('hour')}:${get('minute')}:${get('second')}`;
}

export function parseTime(iso: string | null | undefined): number | null {
  if (iso === null || iso === undefined) return null;
  const ms = Date.parse(iso);
  return Number.isFinite(ms) ? ms : null;
}

/** `1.5 KiB`; powers of 1024. */
export function formatBytes(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(1)} KiB`;
  return `${(bytes / 1024 / 1024).toFixed(1)} MiB`;
}

export const RUN_STATUSES = ['pending', 'running', 'succeeded', 'failed', 'timed_out', 'killed', 'lost', 'skipped'] as const;
export type RunStatus = (typeof RUN_STATUSES)[number];
const BAD_STATUSES: ReadonlySet<string> = new Set(['failed', 'timed_out', 'killed', 'lost']);

/** How a status reads at a glance: the CSS tone it is drawn in. */
export function statusTone(status: string): 'good' | 'bad' | 'busy' | 'quiet' {
  if (status === 'succeeded' || status === 'delivered' || status === 'leader') return 'good';
  if (BAD_STATUSES.has(status) || status === 'candidate') return 'bad';
  if (status === 'running' || status === 'pending') return 'busy';
  return 'quiet';
}

export function isBadStatus(status: string): boolean {
  return BAD_STATUSES.has(status);
}

export function isActiveStatus(status: string): boolean {
  return status === 'pending' || status === 'running';
}

/**
 * Failed runs first (failed, timed_out, killed, lost), then running and pending, then the
 * rest; newest first within each group. Stable for equal keys.
 */
export function failedFirst<T extends { status: string; scheduledAt: string | null }>(runs: readonly T[]): T[] {
  const rank = (s: string) => (BAD_STATUSES.has(s) ? 0 : isActiveStatus(s) ? 1 : 2);
  return runs
    .map((run, i) => ({ run, i, ms: parseTime(run.scheduledAt) ?? 0 }))
    .sort((a, b) => rank(a.run.status) - rank(b.run.status) || b.ms - a.ms || a.i - b.i)
    .map((x) => x.run);
}

/** Counts per status, every known status present (zero when none). */
export function countByStatus(runs: ReadonlyArray<{ status: string }>): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const s of RUN_STATUSES) counts[s] = 0;
  for (const run of runs) counts[run.status] = (counts[run.status] ?? 0) + 1;
  return counts;
}

/** `a=1\nb=2` ↔ `{a: "1", b: "2"}`; blank lines are skipped; a line without the separator is an error. */
export function parsePairs(text: string, separator: '=' | ':'): { ok: true; map: Record<string, string> } | { ok: false; message: string } {
  const map: Record<string, string> = {};
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const line = (lines[i] ?? '').trim();
    if (line === '') continue;
    const at = line.indexOf(separator);
    if (at <= 0) return { ok: false, message: `line ${i + 1}: expected NAME${separator}VALUE` };
    const key = line.slice(0, at).trim();
    if (Object.hasOwn(map, key)) return { ok: false, message: `line ${i + 1}: ${key} is given twice` };
    map[key] = line.slice(at + 1).trim();
  }
  return { ok: true, map };
}

export function pairsText(map: Readonly<Record<string, string>> | undefined, separator: '=' | ':'): string {
  if (map === undefined) return '';
  return Object.entries(map).map(([k, v]) => `${k}${separator === ':' ? ': ' : '='}${v}`).join('\n');
}

/** Replication lag of a member: how many committed entries it has not matched yet (null when unknown). */
export function memberLag(commitIndex: number, matchIndex: number | null): number | null {
  return matchIndex === null ? null : Math.max(0, commitIndex - matchIndex);
}
