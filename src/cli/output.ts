// How read commands print: `-o table|wide|json|yaml`. Tables show times in local time with the
// zone (UTC with --utc) and durations in human units; colour only on a terminal, never with
// NO_COLOR. YAML is the same document as the JSON, written by the small emitter below.
import { UsageError } from './usage.js';

export const OUTPUT_FORMATS = ['table', 'wide', 'json', 'yaml'] as const;
export type OutputFormat = (typeof OUTPUT_FORMATS)[number];

export interface OutputOptions {
  readonly format: OutputFormat;
  readonly utc: boolean;
  readonly colour: boolean;
}

/** The `-o` / `--json` / `--utc` flags as parsed, into options (a bad -o is a usage error). */
export function outputOptions(values: { readonly output?: string | undefined; readonly json?: boolean | undefined; readonly utc?: boolean | undefined }, stream: { readonly isTTY?: boolean } = process.stdout): OutputOptions {
  const wanted = values.json === true ? 'json' : (values.output ?? 'table');
  const format = OUTPUT_FORMATS.find((f) => f === wanted);
  if (format === undefined) throw new UsageError(`-o: expected one of ${OUTPUT_FORMATS.join(', ')}, got "${wanted}"`);
  const noColour = process.env['NO_COLOR'] !== undefined && process.env['NO_COLOR'] !== '';
  return { format, utc: values.utc === true, colour: stream.isTTY === true && !noColour };
}

/** The flags every read command takes, for parseArgs. */
export const OUTPUT_FLAGS = {
  output: { type: 'string', short: 'o' },
  json: { type: 'boolean' },
  utc: { type: 'boolean' },
} as const;

export const OUTPUT_HELP = `  -o FORMAT      table (default), wide, json or yaml (--json is -o json)
  --utc          times in UTC instead of local time`;

// ---- YAML -------------------------------------------------------------------------------

const PLAIN = /^[A-Za-z_][A-Za-z0-9_./ -]*$/;
const RESERVED = /^(true|false|null|yes|no|on|off|~|[-+]?(\d|\.\d))/i;

function yamlString(text: string): string {
  if (text !== '' && PLAIN.test(text) && !RESERVED.test(text) && !text.endsWith(' ') && !text.includes(': ') && !text.includes(' #')) return text;
  return JSON.stringify(text);
}

function yamlScalar(value: unknown): string | null {
  if (value === null || value === undefined) return 'null';
  if (typeof value === 'boolean' || typeof value === 'number') return String(value);
  if (typeof value === 'string') return yamlString(value);
  if (Array.isArray(value) && value.length === 0) return '[]';
  if (typeof value === 'object' && Object.keys(value).length === 0) return '{}';
  return null;
}

function yamlKey(key: string): string {
  return PLAIN.test(key) && !RESERVED.test(key) ? key : JSON.stringify(key);
}

function yamlLines(value: unknown, indent: string): string[] {
  const scalar = yamlScalar(value);
  if (scalar !== null) return [`${indent}${scalar}`];
  if (Array.isArray(value)) {
    return value.flatMap((item: unknown) => {
      const one = yamlScalar(item);
      if (one !== null) return [`${indent}- ${one}`];
      const [first = '', ...rest] = yamlLines(item, `${indent}  `);
      return [`${indent}- ${first.slice(indent.length + 2)}`, ...rest];
    });
  }
  const lines: string[] = [];
  for (const [key, item] of Object.entries(value ?? {})) {
    const one = yamlScalar(item);
    if (one !== null) lines.push(`${indent}${yamlKey(key)}: ${one}`);
    else lines.push(`${indent}${yamlKey(key)}:`, ...yamlLines(item, `${indent}  `));
  }
  return lines;
}

/** The JSON document as YAML 1.2 (block style; strings quoted as JSON when they need it). */
export function toYaml(value: unknown): string {
  return yamlLines(value, '').join('\n') + '\n';
}

// ---- times, durations, colour -----------------------------------------------------------

/** An ISO-8601 instant as local time with the zone's offset (or UTC with `utc`); '-' for none. */
export function formatTime(iso: string | null | undefined, utc: boolean): string {
  if (iso === null || iso === undefined || iso === '') return '-';
  const ms = Date.parse(iso);
  if (!Number.isFinite(ms)) return iso;
  const date = new Date(ms);
  if (utc) return date.toISOString().replace('.000Z', 'Z');
  const offsetMin = -date.getTimezoneOffset();
  const sign = offsetMin < 0 ? '-' : '+';
  const pad = (n: number, width = 2) => String(Math.abs(n)).padStart(width, '0');
  const local = `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())} ${pad(date.getHours())}:${pad(date.getMinutes())}:${pad(date.getSeconds())}`;
  return `${local}${sign}${pad(Math.trunc(offsetMin / 60))}:${pad(offsetMin % 60)}`;
}

/** Milliseconds in the largest sensible units: 850ms, 12.3s, 4m05s, 2h03m, 3d04h. */
export function formatDuration(ms: number | null | undefined): string {
  if (ms === null || ms === undefined || !Number.isFinite(ms)) return '-';
  const abs = Math.abs(ms);
  const sign = ms < 0 ? '-' : '';
  if (abs < 1000) return `${sign}${Math.round(abs)}ms`;
  if (abs < 60_000) return `${sign}${(abs / 1000).toFixed(abs < 10_000 ? 2 : 1)}s`;
  const s = Math.floor(abs / 1000);
  if (s < 3600) return `${sign}${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
  if (s < 86_400) return `${sign}${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
  return `${sign}${Math.floor(s / 86_400)}d${String(Math.floor((s % 86_400) / 3600)).padStart(2, '0')}h`;
}

/** The span between two ISO instants, or '-' when either is missing. */
export function between(fromIso: string | null | undefined, toIso: string | null | undefined): string {
  if (fromIso === null || fromIso === undefined || toIso === null || toIso === undefined) return '-';
  return formatDuration(Date.parse(toIso) - Date.parse(fromIso));
}

const COLOURS = { red: 31, green: 32, yellow: 33, grey: 90 } as const;

/** A status word, coloured on a terminal: green succeeded, red failures, yellow in progress. */
export function statusText(status: string, colour: boolean): string {
  if (!colour) return status;
  const code = status === 'succeeded' || status === 'delivered' ? COLOURS.green
    : ['failed', 'timed_out', 'lost', 'killed'].includes(status) ? COLOURS.red
      : ['running', 'pending'].includes(status) ? COLOURS.yellow
        : status === 'skipped' ? COLOURS.grey : null;
  return code === null ? status : `\u001b[${code}m${status}\u001b[0m`;
}

// ---- printing ---------------------------------------------------------------------------

/** The visible width of a cell (colour escapes take no room). */
function width(cell: string): number {
  return cell.replace(/\u001b\[[0-9;]*m/g, '').length;
}

/** Rows as an aligned plain-text table with a header line. */
export function table(headers: readonly string[], rows: readonly (readonly unknown[])[]): string {
  const cells = rows.map((row) => row.map((cell) => (cell === null || cell === undefined ? '-' : String(cell))));
  const widths = headers.map((h, i) => Math.max(h.length, ...cells.map((row) => width(row[i] ?? ''))));
  const line = (row: readonly string[]) => row.map((cell, i) => cell + ' '.repeat(Math.max(0, (widths[i] ?? 0) - width(cell)))).join('  ').trimEnd();
  return [line(headers), ...cells.map(line)].join('\n') + '\n';
}

/** A document as JSON or YAML; null when the format is a table (the caller renders it). */
export function document(body: unknown, options: OutputOptions): string | null {
  if (options.format === 'json') return JSON.stringify(body, null, 2) + '\n';
  if (options.format === 'yaml') return toYaml(body);
  return null;
}
