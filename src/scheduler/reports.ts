// Executor reports → commands. Reports are peer input: a malformed one gets null (the agent
// does not acknowledge it), never an exception. Times come from the executor's clock when
// they are sane (start and end times of the process itself), else from the leader's.
import { ERROR_CHARS_MAX, OUTPUT_BYTES_MAX, TIME_MS_MAX, type Command } from '../statemachine/index.js';
import type { ExecutorReport } from './types.js';

const FINISHED = new Set(['succeeded', 'failed', 'timed_out', 'killed']);

function isTime(v: unknown): v is number {
  return typeof v === 'number' && Number.isSafeInteger(v) && v >= 0 && v <= TIME_MS_MAX;
}

export function reportCommand(report: ExecutorReport, nowMs: number): Command | null {
  const r = report as Partial<Record<string, unknown>>;
  if (typeof r.runId !== 'string' || typeof r.node !== 'string' || typeof r.attempt !== 'number' || !Number.isSafeInteger(r.attempt)) return null;
  const base = { runId: r.runId, attempt: r.attempt, node: r.node, at: isTime(r.atMs) ? r.atMs : nowMs };
  switch (report.kind) {
    case 'started':
      return { type: 'runStarted', ...base };
    case 'finished': {
      if (!FINISHED.has(report.status) || typeof report.output !== 'string') return null;
      const exitCode = typeof report.exitCode === 'number' && Number.isSafeInteger(report.exitCode) ? report.exitCode : null;
      const output = report.output.length > OUTPUT_BYTES_MAX ? report.output.slice(-OUTPUT_BYTES_MAX) : report.output;
      return {
        type: 'runFinished', ...base, status: report.status, exitCode, output, outputTruncated: report.outputTruncated === true || output !== report.output,
        error: typeof report.error === 'string' ? report.error.slice(0, ERROR_CHARS_MAX) : null,
      };
    }
    case 'lost':
      // A runFinished with status lost keeps the executor's own explanation (e.g. it restarted).
      return {
        type: 'runFinished', ...base, status: 'lost', exitCode: null, output: '', outputTruncated: false,
        error: typeof report.error === 'string' ? report.error.slice(0, ERROR_CHARS_MAX) : 'the executor lost the run',
      };
    default:
      return null;
  }
}
