// Executor reports → the reports of a runReports command. Reports are peer input: a malformed
// one gets null (the agent does not acknowledge it), never an exception. Times come from the
// executor's clock when they are sane (start and end times of the process itself), else from
// the leader's.
import { ERROR_CHARS_MAX, OUTPUT_BYTES_MAX, TIME_MS_MAX, type RunReport } from '../statemachine/index.js';
import type { ExecutorReport } from './types.js';

const FINISHED = new Set(['succeeded', 'failed', 'timed_out', 'killed']);

function isTime(v: unknown): v is number {
  return typeof v === 'number' && Number.isSafeInteger(v) && v >= 0 && v <= TIME_MS_MAX;
}

export function runReportOf(report: ExecutorReport, nowMs: number): RunReport | null {
  // Read through an index signature (a widening, not an assertion): every field is unknown
  // until checked, whatever the static type claims of a peer's message.
  const r: { readonly [field: string]: unknown } = report;
  if (typeof r.runId !== 'string' || typeof r.node !== 'string' || typeof r.attempt !== 'number' || !Number.isSafeInteger(r.attempt)) return null;
  const base = { runId: r.runId, attempt: r.attempt, node: r.node, at: isTime(r.atMs) ? r.atMs : nowMs };
  switch (report.kind) {
    case 'started':
      return { kind: 'started', ...base };
    case 'finished': {
      if (!FINISHED.has(report.status) || typeof report.output !== 'string') return null;
      const exitCode = typeof report.exitCode === 'number' && Number.isSafeInteger(report.exitCode) ? report.exitCode : null;
      const output = report.output.length > OUTPUT_BYTES_MAX ? report.output.slice(-OUTPUT_BYTES_MAX) : report.output;
      // The start, for a run whose started report was never sent; never after the end.
      const startedAt = isTime(r.startedAtMs) && r.startedAtMs <= base.at ? r.startedAtMs : null;
      return {
        kind: 'finished', ...base, startedAt, status: report.status, exitCode, output, outputTruncated: report.outputTruncated === true || output !== report.output,
        error: typeof report.error === 'string' ? report.error.slice(0, ERROR_CHARS_MAX) : null,
      };
    }
    case 'lost':
      // A finished report with status lost keeps the executor's own explanation (e.g. it restarted).
      return {
        kind: 'finished', ...base, startedAt: null, status: 'lost', exitCode: null, output: '', outputTruncated: false,
        error: typeof report.error === 'string' ? report.error.slice(0, ERROR_CHARS_MAX) : 'the executor lost the run',
      };
    default:
      return null;
  }
}
