import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { groupHasLiveMember, signalGroup } from './process-group.js';
import { errorText, type RunHandle, type RunHooks } from './run-handle.js';
import type { OutputCapture } from './output-capture.js';
import type { ShellSpec, TimerHandle, Timers } from './types.js';

/** After the shell exited, how much longer than the kill grace its pipes may stay open. */
const CLOSE_AFTER_KILL_MS = 1_000;
/**
 * How often to look again for the group's end once the shell exited and its pipes closed.
 * Children that got SIGTERM with the shell die a moment later; without a look again the run
 * would wait out the whole kill grace (5 s) for nothing.
 */
const GROUP_POLL_MS = 50;

export interface ShellRunContext {
  readonly spec: ShellSpec;
  readonly env: Readonly<Record<string, string>>;
  /** Masks the output and hands it to the tail and the store; pauses the pipes when the store lags. */
  readonly capture: OutputCapture;
  readonly killGraceMs: number;
  readonly timers: Timers;
}

/**
 * One `/bin/sh -c command` in its own process group. The run owns the group: when the shell
 * exits, whatever it left behind in the group gets SIGTERM and, after the grace, SIGKILL, so a
 * finished run holds no processes. The run finishes once the shell has exited, its pipes are
 * closed and its group is gone or has been sent SIGKILL.
 */
export class ShellRun implements RunHandle {
  private child: ChildProcess | null = null;
  private exit: { code: number | null; signal: NodeJS.Signals | null } | null = null;
  private pipesClosed = false;
  private termSent = false;
  private killSent = false;
  private done = false;
  private escalation: TimerHandle | null = null;
  private closeFallback: TimerHandle | null = null;
  private groupPoll: TimerHandle | null = null;
  private abandonedPipes = false;

  constructor(private readonly context: ShellRunContext, private readonly hooks: RunHooks) {}

  start(): void {
    assert.ok(this.child === null, 'a shell run starts once');
    const { spec, env } = this.context;
    let child: ChildProcess;
    try {
      child = spawn('/bin/sh', ['-c', spec.command], { cwd: spec.cwd, env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
    } catch (error) {
      queueMicrotask(() => this.finishWithError(`spawn failed: ${errorText(error)}`));
      return;
    }
    this.child = child;
    if (child.pid !== undefined) this.hooks.processSpawned(child.pid);
    const capture = this.context.capture;
    // Backpressure: while the store's queue for this run is full, neither pipe is read, so the
    // kernel's pipe buffer fills and the job blocks on its writes instead of the node
    // buffering. Both pipes pause together: one queue holds both streams, in order.
    capture.onDrain = () => {
      child.stdout?.resume();
      child.stderr?.resume();
    };
    const pause = (): void => {
      child.stdout?.pause();
      child.stderr?.pause();
    };
    child.stdout?.on('data', (chunk: Buffer) => capture.push('stdout', chunk) || pause());
    child.stderr?.on('data', (chunk: Buffer) => capture.push('stderr', chunk) || pause());
    child.once('spawn', () => this.hooks.started());
    child.on('error', (error) => {
      // Before a pid exists this is a spawn failure; afterwards it is a failed signal,
      // which the group-kill path already tolerates.
      if (child.pid === undefined) this.finishWithError(`spawn failed: ${errorText(error)}`);
    });
    child.once('exit', (code, signal) => this.onExit(code, signal));
    child.once('close', () => {
      this.pipesClosed = true;
      this.tryFinish();
    });
  }

  terminate(): void {
    if (this.done || this.termSent) return;
    this.sendTerm();
  }

  private get groupId(): number | undefined {
    return this.child?.pid;
  }

  private onExit(code: number | null, signal: NodeJS.Signals | null): void {
    if (this.done) return;
    this.exit = { code, signal };
    if (!this.termSent) this.sendTerm();
    this.closeFallback = this.context.timers.schedule(this.context.killGraceMs + CLOSE_AFTER_KILL_MS, () => this.onCloseFallback());
  }

  private sendTerm(): void {
    const groupId = this.groupId;
    if (groupId === undefined) return;
    this.termSent = true;
    if (signalGroup(groupId, 'SIGTERM') === 'gone') return;
    this.escalation = this.context.timers.schedule(this.context.killGraceMs, () => {
      this.escalation = null;
      this.sendKill();
      this.tryFinish();
    });
  }

  private sendKill(): void {
    const groupId = this.groupId;
    if (groupId === undefined || this.killSent) return;
    this.killSent = true;
    signalGroup(groupId, 'SIGKILL');
  }

  /** A process that left the group (setsid) can hold the pipes forever; stop waiting. */
  private onCloseFallback(): void {
    this.closeFallback = null;
    this.abandonedPipes = true;
    this.child?.stdout?.destroy();
    this.child?.stderr?.destroy();
    this.pipesClosed = true;
    this.sendKill();
    this.tryFinish();
  }

  private tryFinish(): void {
    if (this.done || this.exit === null || !this.pipesClosed) return;
    const groupId = this.groupId;
    const groupGone = groupId === undefined || signalGroup(groupId, 0) === 'gone' || !groupHasLiveMember(groupId);
    if (!groupGone && !this.killSent) {
      // The escalation timer comes back here too, at the latest.
      this.groupPoll ??= this.context.timers.schedule(GROUP_POLL_MS, () => {
        this.groupPoll = null;
        this.tryFinish();
      });
      return;
    }
    this.finish();
  }

  private finish(): void {
    this.done = true;
    this.escalation?.cancel();
    this.closeFallback?.cancel();
    this.groupPoll?.cancel();
    const exit = this.exit;
    assert.ok(exit !== null, 'a shell run finishes after its exit');
    const tail = this.context.capture.finish();
    let error: string | null = exit.signal !== null ? `terminated by signal ${exit.signal}` : null;
    if (this.abandonedPipes) error = `${error ?? 'exited'}; output pipes were still held open by a process outside the run's group`;
    this.hooks.finished({ ok: exit.code === 0, exitCode: exit.code, output: tail.text, outputTruncated: tail.truncated, error });
  }

  private finishWithError(error: string): void {
    if (this.done) return;
    this.done = true;
    this.escalation?.cancel();
    this.closeFallback?.cancel();
    this.groupPoll?.cancel();
    const tail = this.context.capture.finish();
    this.hooks.finished({ ok: false, exitCode: null, output: tail.text, outputTruncated: tail.truncated, error });
  }
}
