// One run: status, attempts and executions with durations and lateness, its output (stdout and
// stderr tabs, streamed from the start and followed live while it runs), and kill.
import { ApiError, enc, get, post, streamText } from './api.js';
import { errorText, jobLink, slot, statusBadge } from './common.js';
import { announce, button, confirmAction, dataTable, definitionList, h, notice, pageHeading, section, uid } from './dom.js';
import { formatBytes, formatDuration, formatTime, isActiveStatus, parseTime } from './format.js';
import type { PageContext } from './types.js';
import { poll } from './poll.js';
import { can } from './session.js';
import type { Execution, Run } from './types.js';
import { runDurationMs } from './page-job.js';
import { readRun } from './decode.js';

/** The page keeps at most this much output (the newest); the whole file stays on the executing node. */
const OUTPUT_CHARS_MAX = 2 * 1024 * 1024;
const STREAMS = ['stdout', 'stderr'] as const;
type Stream = (typeof STREAMS)[number];

export function runLateMs(run: Run): number | null {
  if (typeof run.lateMs === 'number') return run.lateMs;
  const start = parseTime(run.startedAt);
  const scheduled = parseTime(run.scheduledAt);
  return start === null || scheduled === null ? null : start - scheduled;
}

function execDuration(e: Execution): number | null {
  const start = parseTime(e.startedAt ?? null);
  if (start === null) return null;
  return (parseTime(e.finishedAt ?? null) ?? Date.now()) - start;
}

/**
 * Output tabs. Each tab streams its stream from the start (`follow=true` while the run is
 * active, so the answer ends with the run). Without the output endpoint (an older node) the
 * run record's 64 KiB tail is shown instead, refreshed with the run.
 */
function outputView(runId: string): { el: HTMLElement; update(run: Run): void; stop(): void } {
  const tabs = h('div', { role: 'tablist', 'aria-label': 'Output streams', class: 'tabs' });
  const panel = h('div', { role: 'tabpanel', tabindex: 0, id: uid('panel'), class: 'output-panel' });
  const pre = h('pre', { class: 'output', 'aria-live': 'off' });
  const state = h('p', { class: 'muted output-state', 'aria-live': 'polite' });
  const followButton = button('Follow output', () => setFollow(!following), { 'aria-pressed': 'true' });
  panel.append(state, pre);
  let active: Stream = 'stdout';
  let following = true;
  let abort: AbortController | null = null;
  let streamed = false;
  let streamedAttempt = 0;
  let tailOnly = false;
  let lastRun: Run | null = null;
  const tabButtons = STREAMS.map((s) => {
    const b = h('button', { type: 'button', role: 'tab', id: uid('tab'), 'aria-controls': panel.id, 'aria-selected': String(s === active), tabindex: s === active ? 0 : -1 }, s);
    b.addEventListener('click', () => select(s));
    b.addEventListener('keydown', (e) => {
      if (e.key !== 'ArrowRight' && e.key !== 'ArrowLeft') return;
      const next = STREAMS[(STREAMS.indexOf(s) + 1) % STREAMS.length] ?? 'stdout';
      select(next);
      tabButtons[STREAMS.indexOf(next)]?.focus();
    });
    return b;
  });
  tabs.append(...tabButtons);
  const setFollow = (on: boolean) => {
    following = on;
    followButton.setAttribute('aria-pressed', String(on));
    if (on) pre.scrollTop = pre.scrollHeight;
  };
  const appendText = (text: string) => {
    const next = (pre.textContent ?? '') + text;
    pre.textContent = next.length > OUTPUT_CHARS_MAX ? next.slice(next.length - OUTPUT_CHARS_MAX) : next;
    if (following) pre.scrollTop = pre.scrollHeight;
  };
  const showTail = (run: Run) => {
    const latest = run.executions.filter((e) => (e.attempt ?? run.attempt) === run.attempt);
    const text = latest.map((e) => (latest.length > 1 ? `── ${e.node} ──\n` : '') + e.output).join('\n');
    if (pre.textContent !== text) {
      pre.textContent = text;
      if (following) pre.scrollTop = pre.scrollHeight;
    }
    const cut = latest.some((e) => e.outputTruncated === true);
    state.textContent = `The full output is not available on this server (GET /v1/runs/{id}/output is not served by this node): showing the run record's tail of stdout and stderr${cut ? ', cut to its last 64 KiB' : ''}${isActiveStatus(run.status) ? ', refreshed while the run runs' : ''}.`;
  };
  const start = (run: Run) => {
    abort?.abort();
    abort = new AbortController();
    pre.textContent = '';
    streamed = true;
    streamedAttempt = run.attempt;
    const live = isActiveStatus(run.status);
    state.textContent = live ? `Following ${active} live…` : `Loading ${active}…`;
    const signal = abort.signal;
    let received = 0;
    streamText(`/v1/runs/${enc(runId)}/output?stream=${active}${live ? '&follow=true' : ''}`, (chunk) => {
      received += chunk.length;
      appendText(chunk);
    }, signal).then(
      (answer) => {
        if (signal.aborted) return;
        const running = lastRun !== null && isActiveStatus(lastRun.status);
        if (answer.tail) {
          state.textContent = `${active}: the run record's tail${answer.note === null ? '' : ` (${answer.note})`}${running ? '; asking again with the next refresh' : ''}.`;
          // The executing node not known or not reachable from this one yet, its file not
          // opened yet: while the run runs, the next refresh asks again. Also when it ran when
          // this stream began: the tail may predate its output, and a refresh that saw the
          // run end before this answer came would otherwise leave that tail up for good.
          if (running || live) streamed = false;
        } else state.textContent = `${active}: ${formatBytes(received)}${received === 0 ? ' (empty)' : ''}, complete.`;
      },
      (e) => {
        if (signal.aborted) return;
        if (e instanceof ApiError && e.unavailable) {
          tailOnly = true;
          if (lastRun !== null) showTail(lastRun);
          tabs.hidden = true;
        } else state.textContent = `Output stopped: ${errorText(e)}`;
        streamed = false;
      },
    );
  };
  const select = (s: Stream) => {
    active = s;
    tabButtons.forEach((b, i) => {
      b.setAttribute('aria-selected', String(STREAMS[i] === s));
      b.tabIndex = STREAMS[i] === s ? 0 : -1;
    });
    panel.setAttribute('aria-labelledby', tabButtons[STREAMS.indexOf(s)]?.id ?? '');
    if (lastRun !== null && !tailOnly) start(lastRun);
  };
  panel.setAttribute('aria-labelledby', tabButtons[0]?.id ?? '');
  return {
    el: section('Output', h('div', { class: 'output-bar' }, tabs, followButton), panel),
    update(run) {
      lastRun = run;
      if (tailOnly) return showTail(run);
      // Start once; again when a retry began a new attempt (its output is new), or after a stream broke.
      if (!streamed || run.attempt !== streamedAttempt) start(run);
    },
    stop: () => abort?.abort(),
  };
}

export function runPage(root: HTMLElement, ctx: PageContext): () => void {
  const runId = ctx.params[0] ?? '';
  const actions = h('div', { class: 'actions page-actions' });
  const info = slot();
  const executions = dataTable<Execution & { i: number }>('Executions', [
    { title: 'Attempt', cell: (e) => String(e.attempt ?? '–'), class: 'num' },
    { title: 'Node', cell: (e) => e.node },
    { title: 'Status', cell: (e) => statusBadge(e.status) },
    { title: 'Exit code', cell: (e) => (e.exitCode === null ? '–' : String(e.exitCode)), class: 'num' },
    { title: 'Started', cell: (e) => formatTime(e.startedAt ?? null) },
    { title: 'Duration', cell: (e) => formatDuration(execDuration(e)), class: 'num' },
    { title: 'Error', cell: (e) => e.error ?? '–', class: 'wide-only' },
  ]);
  const output = outputView(runId);
  root.append(pageHeading(`Run ${runId}`), actions, info.el, section('Attempts and executions', executions.el), output.el);
  let killing = false;
  const kill = async (run: Run) => {
    if (!(await confirmAction(`Kill run ${run.runId}?`, `The run of ${run.jobId} is stopped on every node that runs it and recorded as killed.`, 'Kill run'))) return;
    killing = true;
    try {
      await post(`/v1/runs/${enc(runId)}/kill`);
      announce('Kill requested');
    } catch (e) {
      info.error(e);
    }
    p.now();
  };
  const p = poll(async (signal) => {
    let run: Run;
    try {
      run = await get(`/v1/runs/${enc(runId)}`, readRun, { signal });
    } catch (e) {
      if (e instanceof ApiError && e.status === 404) {
        info.content(notice(`There is no run ${runId} (its job's history may have dropped it).`));
        return;
      }
      throw e;
    }
    info.clearError();
    const active = isActiveStatus(run.status);
    const progress = run.progress ?? null;
    info.content(definitionList([
      ['Job', jobLink(run.jobId)],
      ['Status', statusBadge(run.status)],
      ['Trigger', `${run.trigger}${run.triggeredBy === undefined ? '' : ` by ${run.triggeredBy}`}`],
      ['Attempt', String(run.attempt)],
      ['Scheduled', formatTime(run.scheduledAt)],
      ['Started', formatTime(run.startedAt)],
      ['Finished', formatTime(run.finishedAt)],
      ['Duration', formatDuration(runDurationMs(run))],
      ['Lateness', formatDuration(runLateMs(run))],
      ['Progress', progress === null ? '–' : h('span', null, h('progress', { max: progress.total, value: progress.done, 'aria-label': 'Progress' }), ` ${progress.done} of ${progress.total}`)],
      ['Payload', run.payload ?? '–'],
      ['Key', run.key ?? '–'],
      ...(run.reason ? [['Reason', run.reason] as const] : []),
      ...(run.result !== undefined ? [['Result', typeof run.result === 'string' ? run.result : JSON.stringify(run.result)] as const] : []),
    ]));
    executions.update(run.executions.map((e, i) => ({ ...e, i })), (e) => `${e.attempt ?? 0}-${e.node}-${e.i}`, 'No execution yet (pending).');
    actions.replaceChildren(...(can('write') && active ? [button(killing ? 'Kill requested' : 'Kill', () => void kill(run), { class: 'danger', disabled: killing })] : []));
    output.update(run);
  }, (e) => info.error(e), 1000);
  return () => {
    p.stop();
    output.stop();
  };
}
