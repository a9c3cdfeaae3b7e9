// The execution plane's messages between nodes, and their checks. Bodies arrive as plain
// decoded msgpack from peers: each is rebuilt field by field into a typed message here, at
// the edge, or dropped. Nothing past this file handles an unchecked body.
import type { Report } from '../executor/index.js';
import type { ExecuteOrder, ExecuteRefusal, ExecutorReport } from '../scheduler/index.js';
import type { KillReason } from '../statemachine/index.js';

export type ReportKind = Report['kind'];

export interface Ack {
  readonly runId: string;
  readonly attempt: number;
  readonly reportKind: ReportKind;
}

/** Leader → executor, on the 'exec' channel. */
export type ExecMessage =
  | { readonly kind: 'executes'; readonly orders: readonly ExecuteOrder[] }
  | { readonly kind: 'acks'; readonly acks: readonly Ack[] }
  | { readonly kind: 'kill'; readonly runId: string; readonly attempt: number; readonly reason: KillReason; readonly term: number };

/** Executor → leader, on the 'report' channel. */
export type ReportMessage =
  | { readonly kind: 'reports'; readonly reports: readonly Report[] }
  | { readonly kind: 'heartbeat'; readonly tags: Readonly<Record<string, string>>; readonly slots: number; readonly runningCount: number }
  | { readonly kind: 'refused'; readonly runId: string; readonly attempt: number; readonly refusal: ExecuteRefusal };

/** Items in one batched message; more is not ours (report-relay.ts sends at most this many). */
export const WIRE_ITEMS_MAX = 500;
/** Tags of one node's heartbeat. */
export const WIRE_TAGS_MAX = 64;
const ID_CHARS_MAX = 256;
const TEXT_CHARS_MAX = 1 << 20;

/** An order as received, to be checked by the executor that will run it. */
export type ReceivedExecMessage =
  | { readonly kind: 'executes'; readonly orders: readonly unknown[] }
  | Exclude<ExecMessage, { kind: 'executes' }>;

function fieldsOf(value: unknown): Map<string, unknown> | null {
  if (typeof value !== 'object' || value === null || Array.isArray(value) || value instanceof Uint8Array) return null;
  return new Map(Object.entries(value));
}

function text(value: unknown, maxChars: number): string | null {
  return typeof value === 'string' && value.length <= maxChars ? value : null;
}

function count(value: unknown): number | null {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 0 ? value : null;
}

function list(value: unknown): readonly unknown[] | null {
  return Array.isArray(value) && value.length <= WIRE_ITEMS_MAX ? value : null;
}

function killReason(value: unknown): KillReason | null {
  return value === 'request' || value === 'timeout' || value === 'replace' ? value : null;
}

function reportKind(value: unknown): ReportKind | null {
  return value === 'started' || value === 'finished' || value === 'lost' ? value : null;
}

function refusal(value: unknown): ExecuteRefusal | null {
  return value === 'no_slot' || value === 'invalid' || value === 'stale_term' ? value : null;
}

function ack(value: unknown): Ack | null {
  const f = fieldsOf(value);
  if (f === null) return null;
  const runId = text(f.get('runId'), ID_CHARS_MAX);
  const attempt = count(f.get('attempt'));
  const kind = reportKind(f.get('reportKind'));
  return runId === null || attempt === null || kind === null ? null : { runId, attempt, reportKind: kind };
}

/** Checks an 'exec' body; orders stay unchecked here (the executor checks each against its own limits). */
export function parseExecMessage(body: unknown): ReceivedExecMessage | null {
  const f = fieldsOf(body);
  if (f === null) return null;
  switch (f.get('kind')) {
    case 'executes': {
      const orders = list(f.get('orders'));
      return orders === null ? null : { kind: 'executes', orders };
    }
    case 'acks': {
      const items = list(f.get('acks'));
      if (items === null) return null;
      const acks = items.map(ack);
      return acks.every((a) => a !== null) ? { kind: 'acks', acks: acks.filter((a) => a !== null) } : null;
    }
    case 'kill': {
      const runId = text(f.get('runId'), ID_CHARS_MAX);
      const attempt = count(f.get('attempt'));
      const reason = killReason(f.get('reason'));
      const term = count(f.get('term'));
      return runId === null || attempt === null || reason === null || term === null ? null : { kind: 'kill', runId, attempt, reason, term };
    }
    default:
      return null;
  }
}

/** A report from `from`: it may speak only about its own executions. */
export function parseReport(value: unknown, from: string): ExecutorReport | null {
  const f = fieldsOf(value);
  if (f === null || f.get('node') !== from) return null;
  const runId = text(f.get('runId'), ID_CHARS_MAX);
  const attempt = count(f.get('attempt'));
  const atMs = count(f.get('atMs'));
  if (runId === null || attempt === null || atMs === null) return null;
  const head = { runId, attempt, node: from, atMs };
  switch (f.get('kind')) {
    case 'started':
      return { kind: 'started', ...head };
    case 'lost': {
      const error = text(f.get('error'), TEXT_CHARS_MAX);
      return error === null ? null : { kind: 'lost', ...head, error };
    }
    case 'finished': {
      const status = f.get('status');
      const output = text(f.get('output'), TEXT_CHARS_MAX);
      const exitCode = f.get('exitCode');
      const error = f.get('error');
      const startedAtMs = f.get('startedAtMs');
      const truncated = f.get('outputTruncated');
      if (status !== 'succeeded' && status !== 'failed' && status !== 'timed_out' && status !== 'killed') return null;
      if (output === null || typeof truncated !== 'boolean') return null;
      if (exitCode !== null && (typeof exitCode !== 'number' || !Number.isSafeInteger(exitCode))) return null;
      if (error !== null && text(error, TEXT_CHARS_MAX) === null) return null;
      if (startedAtMs !== undefined && startedAtMs !== null && count(startedAtMs) === null) return null;
      return {
        kind: 'finished', ...head, status, output, outputTruncated: truncated,
        exitCode: exitCode === null ? null : Number(exitCode),
        error: typeof error === 'string' ? error : null,
        startedAtMs: typeof startedAtMs === 'number' ? startedAtMs : null,
      };
    }
    default:
      return null;
  }
}

/** Checks a 'report' body; reports are checked one by one by parseReport. */
export function parseReportMessage(body: unknown): { readonly kind: 'reports'; readonly reports: readonly unknown[] } | Exclude<ReportMessage, { kind: 'reports' }> | null {
  const f = fieldsOf(body);
  if (f === null) return null;
  switch (f.get('kind')) {
    case 'reports': {
      const reports = list(f.get('reports'));
      return reports === null ? null : { kind: 'reports', reports };
    }
    case 'heartbeat': {
      const tags = fieldsOf(f.get('tags'));
      const slots = count(f.get('slots'));
      const runningCount = count(f.get('runningCount'));
      if (tags === null || tags.size > WIRE_TAGS_MAX || slots === null || runningCount === null) return null;
      const checked: Record<string, string> = {};
      for (const [name, value] of tags) {
        const v = text(value, ID_CHARS_MAX);
        if (v === null || name.length > ID_CHARS_MAX) return null;
        checked[name] = v;
      }
      return { kind: 'heartbeat', tags: checked, slots, runningCount };
    }
    case 'refused': {
      const runId = text(f.get('runId'), ID_CHARS_MAX);
      const attempt = count(f.get('attempt'));
      const why = refusal(f.get('refusal'));
      return runId === null || attempt === null || why === null ? null : { kind: 'refused', runId, attempt, refusal: why };
    }
    default:
      return null;
  }
}

