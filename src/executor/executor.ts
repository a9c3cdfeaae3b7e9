import assert from 'node:assert/strict';
import { HttpRun } from './http-run.js';
import { JournalFile } from './journal.js';
import type { JournalRecord, RunProcess } from './journal-records.js';
import { processStartTime } from './process-group.js';
import { KILL_NOTES, finishedError, finishedStatus, lostError, type KillState } from './outcome.js';
import { RunLedger } from './ledger.js';
import { KILL_GRACE_MS_DEFAULT, OUTPUT_BYTES_MAX_DEFAULT, resolveLimits } from './limits.js';
import { ReportOutbox } from './outbox.js';
import { OutputCapture } from './output-capture.js';
import type { OutputInfo } from './output-entry.js';
import type { OutputReadOptions } from './output-reader.js';
import { OutputStore, type OpenOutputResult, type OutputStats } from './output-store.js';
import type { RunOutputWriter } from './output-writer.js';
import { shellEnv, stringEnv, type RunIdentity } from './placeholders.js';
import type { RunHandle, RunOutcome } from './run-handle.js';
import { runKey } from './run-key.js';
import { ShellRun } from './shell-run.js';
import { StartWaves, startAtMs } from './start-waves.js';
import { realTimers } from './timers.js';
import type {
  EndReport, ExecuteRequest, ExecuteResult, ExecutorLimits, ExecutorOptions, FinishedReport, HttpSpec,
  KillReason, Report, ReportKind, RunningRun, TimerHandle, Timers,
} from './types.js';
import { validateExecuteRequest } from './validate.js';

const OUTPUT_STATS_NONE: OutputStats = {
  outputRunsStored: 0, outputFilesStored: 0, outputBytesStored: 0, outputReaders: 0, outputBytesWrittenTotal: 0, outputRunsTruncatedTotal: 0,
  outputRunsEvictedTotal: 0, outputRunsRecoveredTotal: 0, outputWriteErrorsTotal: 0, outputPausesTotal: 0,
};

interface Run {
  readonly request: ExecuteRequest;
  startTimer: TimerHandle | null;
  timeoutTimer: TimerHandle | null;
  handle: RunHandle | null;
  /** An http run's request built ahead of its notBefore (the handle once started). */
  prepared: HttpRun | null;
  startedAtMs: number | null;
  /** When launch() sent its prepared request, ahead of the start's bookkeeping: its start time. */
  launchedAtMs: number | null;
  process: RunProcess | null;
  kill: KillState | null;
  /** Stores the run's output; begun at acceptance, so a follower can wait for the start. */
  output: RunOutputWriter | null;
}

export interface ExecutorStats extends OutputStats {
  readonly slots: number;
  readonly runs: number;
  readonly outboxReports: number;
  readonly rememberedRuns: number;
  readonly newestTerm: number;
  readonly journalBytes: number;
  readonly droppedStartedReports: number;
  readonly journalSkippedLines: number;
  readonly journalWriteErrors: number;
}

/**
 * Runs jobs on one node. The agent feeds it `execute` requests from the leader, sends what
 * `pendingReports()` holds to the current leader and calls `acknowledge` once a report is
 * committed. Invariants: runs ≤ slots; each (runId, attempt) is accepted at most once while
 * remembered; every accepted run ends in exactly one finished or lost report, which stays in
 * the outbox until acknowledged.
 */
export class Executor {
  readonly nodeId: string;
  readonly slots: number;
  readonly limits: ExecutorLimits;
  /** Why the last execute was not accepted; for logs. */
  lastRefusal: string | null = null;
  private readonly now: () => number;
  private readonly timers: Timers;
  private readonly startWaves: StartWaves<Run>;
  private readonly outputBytesMax: number;
  private readonly killGraceMs: number;
  private readonly baseEnv: Readonly<Record<string, string>>;
  private readonly onReport: ((report: Report) => void) | undefined;
  private readonly runs = new Map<string, Run>();
  private readonly ledger: RunLedger;
  private readonly outbox: ReportOutbox;
  private readonly journal: JournalFile | null = null;
  private readonly output: OutputStore | null = null;
  private newestTerm = 0;
  private stopping = false;
  private idleWaiters: (() => void)[] = [];
  private journalSkippedLines = 0;
  private journalWriteErrors = 0;
  /** End reports written to the journal but not yet synced: not reported until they are. */
  private readonly undurableEnds = new Set<string>();

  constructor(options: ExecutorOptions) {
    assert.ok(typeof options.nodeId === 'string' && options.nodeId.length > 0, 'nodeId is required');
    assert.ok(Number.isSafeInteger(options.slots) && options.slots > 0, 'slots must be a positive integer');
    this.nodeId = options.nodeId;
    this.slots = options.slots;
    this.limits = resolveLimits(options.limits, options.slots);
    this.now = options.now ?? Date.now;
    this.timers = options.timers ?? realTimers;
    this.startWaves = new StartWaves(this.timers, this.now, (run) => this.start(run), (run) => this.launch(run));
    this.outputBytesMax = options.outputBytesMax ?? OUTPUT_BYTES_MAX_DEFAULT;
    this.killGraceMs = options.killGraceMs ?? KILL_GRACE_MS_DEFAULT;
    assert.ok(Number.isSafeInteger(this.outputBytesMax) && this.outputBytesMax > 0, 'outputBytesMax must be a positive integer');
    assert.ok(Number.isSafeInteger(this.killGraceMs) && this.killGraceMs >= 0, 'killGraceMs must be a non-negative integer');
    this.baseEnv = options.baseEnv ?? stringEnv(process.env);
    this.onReport = options.onReport;
    this.ledger = new RunLedger(this.limits.rememberedRunsMax);
    this.outbox = new ReportOutbox(this.limits.outboxReportsMax);
    if (options.journalPath !== undefined && options.journalPath !== null) {
      this.journal = this.recover(options.journalPath);
    }
    if (options.outputDir !== undefined && options.outputDir !== null) {
      this.output = new OutputStore({
        dir: options.outputDir, runBytesMax: this.limits.runOutputBytesMax, nodeBytesMax: this.limits.nodeOutputBytesMax,
        nodeRunsMax: this.limits.nodeOutputRunsMax, writeQueueBytesMax: this.limits.outputWriteQueueBytesMax,
        readersMax: this.limits.outputReadersMax, now: this.now,
      });
    }
  }

  /** Accepts a run or says why not. Never throws on bad input. */
  execute(request: ExecuteRequest): ExecuteResult {
    const validation = validateExecuteRequest(request, this.limits, this.now());
    if (!validation.ok) return this.refuse('invalid', validation.error);
    const req = validation.value;
    if (req.term < this.newestTerm) return this.refuse('stale_term', `term ${req.term} is older than ${this.newestTerm}`);
    this.newestTerm = req.term;
    if (this.ledger.has(req.runId, req.attempt)) return this.refuse('duplicate', `run ${req.runId} attempt ${req.attempt} was already accepted`);
    if (request.startedOnNode === true) {
      // The log says this node started the run, yet we have no record of it: our data was
      // lost or the node was replaced under the same id. Running it now would execute it a
      // second time; report it lost instead, so the leader's retry policy decides (G3).
      this.queueEnd({ kind: 'lost', runId: req.runId, attempt: req.attempt, node: this.nodeId, atMs: this.now(), error: 'this node has no record of a run the log says it started (its data was lost or it was replaced)' });
      return this.refuse('duplicate', `run ${req.runId} attempt ${req.attempt} was started by an earlier incarnation of this node`);
    }
    if (this.stopping) return this.refuse('no_slot', 'the executor is stopping');
    if (this.runs.size >= this.slots) return this.refuse('no_slot', `all ${this.slots} slots are taken`);
    // Every accepted run will queue one end report; keep room for all of them.
    if (this.outbox.endCount + this.runs.size + 1 > this.limits.outboxReportsMax) {
      return this.refuse('no_slot', `the report outbox is full (${this.limits.outboxReportsMax} reports unacknowledged)`);
    }
    if (!this.journalWrite({ t: 'accept', runId: req.runId, attempt: req.attempt, term: req.term })) {
      return this.refuse('no_slot', 'the journal could not record the run');
    }
    this.ledger.record(req.runId, req.attempt, 'active');
    const startAt = req.notBeforeMs === null ? null : startAtMs(req.notBeforeMs, req.sentAtMs, this.now());
    // The output is live from acceptance: a reader that comes before the start (a fire is sent
    // ahead of its instant) waits for it instead of finding nothing. Only a shell run has
    // stdout and stderr to keep: an HTTP run's answer is in its record's tail, and files per
    // HTTP call (open, write, close, sync of the directory) cost more CPU than the call itself
    // at 1,000 fires/s (bench:fire: 1.3 ms against 0.3 ms per fire).
    const output = req.spec.type === 'shell' ? (this.output?.begin({ runId: req.runId, attempt: req.attempt, jobId: req.jobId }) ?? null) : null;
    const run: Run = { request: req, startTimer: null, timeoutTimer: null, handle: null, prepared: null, startedAtMs: null, launchedAtMs: null, process: null, kill: null, output };
    const key = runKey(req.runId, req.attempt);
    this.runs.set(key, run);
    this.compactJournalIfDue();
    // The accept must be on disk before the process starts (after a crash the run is then
    // reported lost, never run twice); a fire committed ahead of its instant hides the sync.
    this.afterDurable((error) => {
      if (this.runs.get(key) !== run || run.kill !== null) return;
      if (error !== null) {
        this.journalWriteErrors++;
        this.onFinished(run, { ok: false, exitCode: null, output: '', outputTruncated: false, error: `the journal could not record the run: ${error.message}` });
        return;
      }
      if (req.notBeforeMs === null || startAt === null || startAt <= this.now()) return this.start(run);
      run.startTimer = this.startWaves.add(req.notBeforeMs, startAt, run);
      if (req.spec.type === 'http') {
        run.prepared = this.httpRun(run, req.spec);
        run.prepared.prepare();
      }
    });
    this.lastRefusal = null;
    return 'accepted';
  }

  /** Runs `then` once the journal holds every record written so far (at once without a journal). */
  private afterDurable(then: (error: Error | null) => void): void {
    if (this.journal === null || !this.journal.open) then(null);
    else this.journal.syncSoon(then);
  }

  /** Stops every run of `runId` (normally one attempt); the finished report follows. */
  kill(runId: string, reason: KillReason): 'killing' | 'not_found' {
    let found = false;
    for (const run of this.runs.values()) {
      if (run.request.runId !== runId) continue;
      found = true;
      this.killRun(run, reason, KILL_NOTES[reason]);
    }
    return found ? 'killing' : 'not_found';
  }

  /** Raise the newest known term from any message of a leader, not only from executes. */
  observeTerm(term: number): void {
    if (Number.isSafeInteger(term) && term > this.newestTerm) this.newestTerm = term;
  }

  pendingReports(): Report[] {
    const pending = this.outbox.pending();
    return this.undurableEnds.size === 0 ? pending : pending.filter((r) => r.kind === 'started' || !this.undurableEnds.has(runKey(r.runId, r.attempt)));
  }

  /**
   * The leader has committed this report. Call it only after commit: an acknowledged end
   * report lets the executor forget the run's result.
   */
  acknowledge(runId: string, attempt: number, kind: ReportKind): boolean {
    if (!this.outbox.acknowledge(runId, attempt, kind)) return false;
    if (kind !== 'started') {
      this.ledger.record(runId, attempt, 'settled');
      // Not synced: a lost ack only makes the report be sent again, which the leader ignores.
      this.journalWrite({ t: 'ack', runId, attempt });
      this.compactJournalIfDue();
    }
    return true;
  }

  running(): RunningRun[] {
    return [...this.runs.values()].map((run) => ({
      runId: run.request.runId, attempt: run.request.attempt, jobId: run.request.jobId, startedAtMs: run.startedAtMs,
    }));
  }

  stats(): ExecutorStats {
    return {
      slots: this.slots, runs: this.runs.size, outboxReports: this.outbox.size, rememberedRuns: this.ledger.size,
      newestTerm: this.newestTerm, journalBytes: this.journal?.bytes ?? 0, droppedStartedReports: this.outbox.droppedStarted,
      journalSkippedLines: this.journalSkippedLines, journalWriteErrors: this.journalWriteErrors,
      ...(this.output?.stats() ?? OUTPUT_STATS_NONE),
    };
  }

  /**
   * Reads a run's stored output from its start (the latest attempt stored here when `attempt`
   * is undefined): an async iterator of Buffer chunks, read from disk on demand. With
   * `follow` it waits for new output while the run is live and ends when the run ends (or
   * its output is removed). Waits for the startup recovery of stored output first.
   */
  async openOutput(runId: string, attempt?: number, options: OutputReadOptions = {}): Promise<OpenOutputResult> {
    if (this.output === null) return { ok: false, reason: 'disabled' };
    return this.output.open(runId, attempt, options);
  }

  /** Whether the run's stored output may still grow (its writer is open). */
  isLive(runId: string, attempt: number): boolean {
    return this.output?.isLive(runId, attempt) ?? false;
  }

  /** Sizes and state of one run's stored output (the latest attempt when `attempt` is undefined). */
  outputInfo(runId: string, attempt?: number): OutputInfo | null {
    return this.output?.info(runId, attempt) ?? null;
  }

  /** Every stored run's output, oldest first. Complete once `outputReady()` resolved. */
  listOutputs(): OutputInfo[] {
    return this.output?.list() ?? [];
  }

  /**
   * Deletes the stored output of these runs, every attempt (e.g. the job's history dropped
   * them); a live one stops being stored. Resolves with the number of attempts removed once
   * their files are gone.
   */
  removeOutput(runIds: string | readonly string[]): Promise<number> {
    if (this.output === null) return Promise.resolve(0);
    return this.output.remove(typeof runIds === 'string' ? [runIds] : runIds);
  }

  /** Deletes the stored output of every run of a job (e.g. the job was deleted). */
  removeJobOutput(jobId: string): Promise<number> {
    return this.output?.removeJob(jobId) ?? Promise.resolve(0);
  }

  /** Resolves once the output an earlier process left was recovered (at once without outputDir). */
  outputReady(): Promise<void> {
    return this.output?.ready ?? Promise.resolve();
  }

  /**
   * Refuses new runs; runs waiting for notBefore end as killed. With killRunning the others are
   * killed too (their group gets SIGTERM, then SIGKILL after the grace); without, they run to
   * their end. Resolves when no run is left, then closes the journal. Call again with
   * killRunning to cut a slow drain short.
   */
  async stop(options: { readonly killRunning: boolean }): Promise<void> {
    this.stopping = true;
    for (const run of [...this.runs.values()]) {
      if (run.handle === null) this.killRun(run, 'request', 'the executor stopped before the run started');
      else if (options.killRunning) this.killRun(run, 'request', 'killed: the executor is stopping');
    }
    if (this.runs.size > 0) await new Promise<void>((resolve) => this.idleWaiters.push(resolve));
    this.journal?.close();
    await this.output?.close();
  }

  private refuse(result: Exclude<ExecuteResult, 'accepted'>, why: string): ExecuteResult {
    this.lastRefusal = `${result}: ${why}`;
    return result;
  }

  private identity(req: ExecuteRequest): RunIdentity {
    return { jobId: req.jobId, runId: req.runId, scheduledAtMs: req.scheduledAtMs, attempt: req.attempt, nodeId: this.nodeId, payload: req.payload };
  }

  private start(run: Run): void {
    run.startTimer = null;
    const req = run.request;
    const hooks = {
      started: () => this.onStarted(run),
      processSpawned: (processId: number) => this.onProcessSpawned(run, processId),
      finished: (outcome: RunOutcome) => this.onFinished(run, outcome),
    };
    const capture = new OutputCapture(this.outputBytesMax, req.maskValues ?? [], run.output);
    if (req.spec.type === 'shell') {
      const env = shellEnv(this.baseEnv, req.spec.env, this.identity(req));
      const shell = new ShellRun({ spec: req.spec, env, capture, killGraceMs: this.killGraceMs, timers: this.timers }, hooks);
      run.handle = shell;
      shell.start();
    } else {
      const http = run.prepared ?? this.httpRun(run, req.spec);
      run.prepared = null;
      run.handle = http;
      http.start(capture);
    }
    // The timeout counts from the start, not from acceptance; the run may have ended already.
    if (this.runs.get(runKey(req.runId, req.attempt)) === run) {
      run.timeoutTimer = this.timers.schedule(req.timeoutMs, () => this.killRun(run, 'timeout', `timed out after ${req.timeoutMs} ms`));
    }
  }

  private httpRun(run: Run, spec: HttpSpec): HttpRun {
    const context = { spec, identity: this.identity(run.request), bodyReadBytesMax: this.limits.httpBodyReadBytesMax };
    return new HttpRun(context, {
      started: () => this.onStarted(run),
      processSpawned: () => undefined,
      finished: (outcome: RunOutcome) => this.onFinished(run, outcome),
    });
  }

  private onProcessSpawned(run: Run, processId: number): void {
    const startTime = processStartTime(processId);
    if (startTime === null) return;
    run.process = { pid: processId, startTime };
    // Unsynced on purpose: it only matters after a crash of this process, which leaves the
    // page cache intact; a machine crash takes the run's processes with it.
    this.journalWrite({ t: 'pid', runId: run.request.runId, attempt: run.request.attempt, ...run.process });
    this.compactJournalIfDue();
  }

  /** Sends a waiting run's prepared request ahead of its start (StartWaves' first pass). */
  private launch(run: Run): void {
    if (run.prepared === null) return;
    const atMs = this.now();
    run.prepared.launch();
    if (run.prepared.launched) run.launchedAtMs = atMs;
  }

  private onStarted(run: Run): void {
    run.startedAtMs = run.launchedAtMs ?? this.now();
    // The timeout counts from the recorded start: a process's spawn event comes a turn or more
    // after start() armed the timer (ms later on a busy node), and the run must not be killed
    // before timeoutMs of it have passed.
    const req = run.request;
    if (run.timeoutTimer !== null && run.kill === null) {
      run.timeoutTimer.cancel();
      run.timeoutTimer = this.timers.schedule(Math.max(0, run.startedAtMs + req.timeoutMs - this.now()), () => this.killRun(run, 'timeout', `timed out after ${req.timeoutMs} ms`));
    }
    const report = { kind: 'started', runId: req.runId, attempt: req.attempt, node: this.nodeId, atMs: run.startedAtMs } as const;
    if (this.outbox.pushStarted(report)) this.onReport?.(report);
  }

  private killRun(run: Run, reason: KillReason, note: string): void {
    if (run.kill !== null) return;
    run.kill = { reason, note };
    // Its request already left (launched with its wave, its start not yet done): it started,
    // and ends killed like any started run. Out of its wave first, or the wave would start it again.
    if (run.handle === null && run.prepared?.launched === true) {
      run.startTimer?.cancel();
      this.start(run);
    }
    if (run.handle !== null) {
      run.handle.terminate();
      return;
    }
    run.startTimer?.cancel();
    run.startTimer = null;
    run.prepared?.discard();
    run.prepared = null;
    this.onFinished(run, { ok: false, exitCode: null, output: '', outputTruncated: false, error: null });
  }

  private onFinished(run: Run, outcome: RunOutcome): void {
    const req = run.request;
    const key = runKey(req.runId, req.attempt);
    assert.equal(this.runs.get(key), run, 'a run finishes once');
    this.runs.delete(key);
    run.timeoutTimer?.cancel();
    run.startTimer?.cancel();
    run.prepared?.discard();
    run.prepared = null;
    // Ended by the capture when the run started; a run that never started ends it here.
    run.output?.end();
    const report: FinishedReport = {
      kind: 'finished', runId: req.runId, attempt: req.attempt, node: this.nodeId, atMs: this.now(), startedAtMs: run.startedAtMs,
      status: finishedStatus(run, outcome), exitCode: outcome.exitCode, output: outcome.output,
      outputTruncated: outcome.outputTruncated, error: finishedError(run, outcome),
    };
    this.queueEnd(report);
    if (this.runs.size === 0) {
      const waiters = this.idleWaiters;
      this.idleWaiters = [];
      for (const resolve of waiters) resolve();
    }
  }

  private queueEnd(report: EndReport): void {
    this.ledger.record(report.runId, report.attempt, 'ended');
    this.journalWrite({ t: 'end', report });
    this.outbox.pushEnd(report);
    this.compactJournalIfDue();
    // Reported only once on disk: a result lost in a crash would be reported lost and maybe
    // run again. Until then pendingReports() leaves it out too.
    const key = runKey(report.runId, report.attempt);
    this.undurableEnds.add(key);
    this.afterDurable((error) => {
      if (error !== null) this.journalWriteErrors++;
      this.undurableEnds.delete(key);
      this.onReport?.(report);
    });
  }

  /** True when the record is written (durable after the next sync) or there is no journal; false when the write failed. */
  private journalWrite(record: JournalRecord): boolean {
    if (this.journal === null || !this.journal.open) return true;
    try {
      // A pid record is written at once: it must survive a crash of this process right after the spawn.
      this.journal.append(record, false, record.t !== 'pid');
      return true;
    } catch {
      this.journalWriteErrors++;
      return false;
    }
  }

  /**
   * Called only once memory reflects every record written, since compaction rewrites the
   * file from memory. A failed rewrite leaves the old file in place; it is retried later.
   */
  private compactJournalIfDue(): void {
    if (this.journal === null || !this.journal.open || !this.journal.needsCompaction()) return;
    try {
      this.journal.rewrite(this.compactedRecords());
    } catch {
      this.journalWriteErrors++;
    }
  }

  /** The journal's whole meaning in one pass: newest term, then every remembered pair. */
  private *compactedRecords(): Generator<JournalRecord> {
    yield { t: 'term', term: this.newestTerm };
    for (const entry of this.ledger.all()) {
      if (entry.state === 'settled') {
        yield { t: 'ack', runId: entry.runId, attempt: entry.attempt };
      } else if (entry.state === 'ended') {
        const report = this.outbox.endFor(entry.runId, entry.attempt);
        assert.ok(report !== undefined, 'an ended run has its end report in the outbox');
        yield { t: 'end', report };
      } else {
        const run = this.runs.get(runKey(entry.runId, entry.attempt));
        assert.ok(run !== undefined, 'an active run is in the run table');
        yield { t: 'accept', runId: entry.runId, attempt: entry.attempt, term: run.request.term };
        if (run.process !== null) yield { t: 'pid', runId: entry.runId, attempt: entry.attempt, ...run.process };
      }
    }
  }

  /**
   * Replays a previous process's journal: a run it accepted and never ended is reported lost
   * (G3: never forgotten), an unacknowledged end report is queued again, and every pair stays
   * remembered so a re-sent execute is a duplicate. Reports are queued without onReport: the
   * agent collects them with pendingReports() once it is wired up.
   */
  private recover(path: string): JournalFile {
    const { journal, replayed } = JournalFile.open(path, this.limits.journalCompactBytes);
    this.newestTerm = replayed.newestTerm;
    this.journalSkippedLines = replayed.skippedLines;
    for (const run of replayed.runs) {
      if (run.state === 'settled') {
        this.ledger.record(run.runId, run.attempt, 'settled');
        continue;
      }
      const report: EndReport = run.endReport ?? {
        kind: 'lost', runId: run.runId, attempt: run.attempt, node: this.nodeId, atMs: this.now(), error: lostError(run.process),
      };
      this.ledger.record(run.runId, run.attempt, 'ended');
      this.outbox.pushEnd(report);
    }
    // Rewriting at once persists the lost reports and drops a torn last line.
    journal.rewrite(this.compactedRecords());
    return journal;
  }
}
