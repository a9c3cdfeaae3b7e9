// `chime worker --function NAME [--concurrency N] -- COMMAND ARGS…`: a pull worker. It claims
// runs of its functions (long-polls), runs COMMAND once per run with the payload on stdin,
// sends heartbeats with stderr as output while it runs, and completes the run with stdout as
// its result on exit 0, or fails it on any other exit. A 409 on a heartbeat means the
// attempt is no longer ours (lease lost, killed): the command is stopped.
import { spawn, type ChildProcess } from 'node:child_process';
import { hostname } from 'node:os';
import { fieldsOf, listOf, num, text } from './answers.js';
import { apiSender, problemLine, type ApiCall, type HttpAnswer } from './http-client.js';
import { parseFlags } from './flags.js';
import { OperationError, UsageError, errorMessage, serverList } from './usage.js';
import { document, outputOptions, OUTPUT_FLAGS, table, formatTime } from './output.js';

export const WORKER_HELP = `usage: chime worker --function NAME [--function NAME…] [--concurrency N] [--id ID] -- COMMAND [ARGS…]

Claims runs of the functions (jobs with executor {"type":"queue","function":NAME}) and runs
COMMAND once per run: the payload on stdin; CHIME_RUN_ID, CHIME_ATTEMPT, CHIME_JOB_ID and
CHIME_FUNCTION in the environment. stdout becomes the run's result (at most 64 KiB), stderr
its output; exit 0 completes the run, any other exit fails it (the job's retry policy
decides). Heartbeats renew the lease while COMMAND runs. SIGTERM/SIGINT: claim no more,
finish the running commands, then exit.

flags:
  --function NAME    a function to claim (repeatable)
  --concurrency N    commands at once (default 1, at most 64)
  --id ID            worker id (default HOST-PID)
  --wait DURATION    how long one claim long-polls (default 20s, at most 60s)
  --server URLS      nodes' APIs, comma-separated (as for every command)
`;

export const FUNCTIONS_HELP = `usage: chime functions [--server URLS] [-o FORMAT]

Each function: runs queued (by priority), running, workers seen in the last minute, claims waiting.
`;

export const WORKERS_HELP = `usage: chime workers [--server URLS] [-o FORMAT]

Each pull worker the cluster saw: its functions, the node it asked, when it was last seen, the runs it holds.
`;

const RESULT_BYTES_MAX = 64 * 1024;
const OUTPUT_CHUNK_BYTES_MAX = 64 * 1024;
const CONCURRENCY_MAX = 64;
const RETRY_PAUSE_MS = 500;
/** Reports (heartbeat, complete, fail) are retried this long through leader changes. */
const REPORT_RETRY_MS = 60_000;

type Claimed = { readonly runId: string; readonly attempt: number; readonly jobId: string; readonly function: string; readonly payload: string; readonly leaseMs: number };

function readItem(value: unknown, what: string): Claimed {
  const o = fieldsOf(value, what);
  return { runId: text(o, 'runId', what), attempt: num(o, 'attempt', what), jobId: text(o, 'jobId', what), function: text(o, 'function', what), payload: text(o, 'payload', what), leaseMs: num(o, 'leaseMs', what) };
}

function parseDurationMs(textValue: string): number | null {
  const m = /^(\d{1,7})(ms|s|m)$/.exec(textValue);
  if (m === null) return null;
  return Number(m[1]) * (m[2] === 'ms' ? 1 : m[2] === 's' ? 1000 : 60_000);
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const utf8 = new TextEncoder();

/** The end of a text that fits in `bytesMax` UTF-8 bytes. */
function tail(value: string, bytesMax: number): string {
  let out = value.length > bytesMax ? value.slice(-bytesMax) : value;
  while (utf8.encode(out).length > bytesMax) out = out.slice(Math.ceil((utf8.encode(out).length - bytesMax) / 4) + 1);
  return out;
}

export async function workerCommand(args: string[], out: (s: string) => void): Promise<void> {
  const dash = args.indexOf('--');
  const own = dash < 0 ? args : args.slice(0, dash);
  const command = dash < 0 ? [] : args.slice(dash + 1);
  const { values } = parseFlags('worker', own, {
    function: { type: 'string', multiple: true }, concurrency: { type: 'string' }, id: { type: 'string' }, wait: { type: 'string' },
    server: { type: 'string' }, help: { type: 'boolean' },
  }, false);
  if (values.help === true) return out(WORKER_HELP);
  const functions = values.function ?? [];
  if (functions.length === 0) throw new UsageError('worker: needs --function NAME');
  const [program, ...programArgs] = command;
  if (program === undefined) throw new UsageError('worker: needs -- COMMAND [ARGS…] after the flags');
  const concurrency = Number(values.concurrency ?? '1');
  if (!Number.isInteger(concurrency) || concurrency < 1 || concurrency > CONCURRENCY_MAX) throw new UsageError(`worker: --concurrency must be 1 to ${CONCURRENCY_MAX}`);
  const waitMs = values.wait === undefined ? 20_000 : parseDurationMs(values.wait);
  if (waitMs === null || waitMs > 60_000) throw new UsageError('worker: --wait must be a duration like 20s, at most 60s');
  const worker = values.id ?? `${hostname().toLowerCase().replace(/[^a-z0-9._-]/g, '-').slice(0, 100)}-${process.pid}`;
  const send = apiSender(serverList(values.server));
  const w = new PullWorker({ send, worker, functions, concurrency, waitMs, program, programArgs, log: (line) => process.stderr.write(`chime worker: ${line}\n`) });
  const stop = (): void => w.stop();
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
  try {
    await w.run();
  } finally {
    process.off('SIGTERM', stop);
    process.off('SIGINT', stop);
  }
}

type WorkerOptions = {
  readonly send: ApiCall;
  readonly worker: string;
  readonly functions: readonly string[];
  readonly concurrency: number;
  readonly waitMs: number;
  readonly program: string;
  readonly programArgs: readonly string[];
  readonly log: (line: string) => void;
};

class PullWorker {
  private stopping = false;
  private readonly running = new Set<Promise<void>>();
  private wakeSlot: (() => void) | null = null;

  constructor(private readonly o: WorkerOptions) {}

  stop(): void {
    this.stopping = true;
    this.wakeSlot?.();
  }

  async run(): Promise<void> {
    this.o.log(`${this.o.worker} claims ${this.o.functions.join(', ')} (${this.o.concurrency} at once)`);
    while (!this.stopping) {
      const free = this.o.concurrency - this.running.size;
      if (free <= 0) {
        await new Promise<void>((resolve) => (this.wakeSlot = resolve));
        this.wakeSlot = null;
        continue;
      }
      let items: Claimed[];
      try {
        items = await this.claim(free);
      } catch (error) {
        this.o.log(`claim failed: ${errorMessage(error)}`);
        await sleep(RETRY_PAUSE_MS);
        continue;
      }
      for (const item of items) {
        const job = this.execute(item).catch((error: unknown) => this.o.log(`run ${item.runId}: ${errorMessage(error)}`));
        this.running.add(job);
        void job.finally(() => {
          this.running.delete(job);
          this.wakeSlot?.();
        });
      }
    }
    await Promise.all(this.running);
  }

  private async claim(max: number): Promise<Claimed[]> {
    const answer = await this.o.send('POST', '/v1/workers/claim', { worker: this.o.worker, functions: this.o.functions, max, waitMs: this.o.waitMs }, this.o.waitMs + 15_000);
    if (answer.status !== 200) throw new OperationError(problemLine(answer));
    return listOf(fieldsOf(answer.body, 'claim'), 'items', 'claim', readItem);
  }

  /** A report, retried through leader changes; 409 means the attempt is no longer ours. */
  private async report(item: Claimed, kind: 'heartbeat' | 'complete' | 'fail', body: Record<string, unknown>): Promise<'ok' | 'gone'> {
    const untilMs = Date.now() + REPORT_RETRY_MS;
    for (;;) {
      let answer: HttpAnswer | null = null;
      try {
        answer = await this.o.send('POST', `/v1/runs/${encodeURIComponent(item.runId)}/${kind}`, { worker: this.o.worker, attempt: item.attempt, ...body });
      } catch (error) {
        if (Date.now() >= untilMs) throw error;
      }
      if (answer !== null) {
        if (answer.status === 200) return 'ok';
        if (answer.status === 409 || answer.status === 404) return 'gone';
        if (answer.status < 500 && answer.status !== 429) throw new OperationError(problemLine(answer));
        if (Date.now() >= untilMs) throw new OperationError(problemLine(answer));
      }
      await sleep(RETRY_PAUSE_MS);
    }
  }

  private async execute(item: Claimed): Promise<void> {
    const child: ChildProcess = spawn(this.o.program, this.o.programArgs, {
      stdio: ['pipe', 'pipe', 'pipe'],
      env: { ...process.env, CHIME_RUN_ID: item.runId, CHIME_ATTEMPT: String(item.attempt), CHIME_JOB_ID: item.jobId, CHIME_FUNCTION: item.function, CHIME_WORKER: this.o.worker },
    });
    let stdout = '';
    let stdoutBytes = 0;
    let pendingOutput = '';
    child.stdout?.setEncoding('utf8').on('data', (chunk: string) => {
      stdoutBytes += Buffer.byteLength(chunk);
      if (stdoutBytes <= RESULT_BYTES_MAX) stdout += chunk;
    });
    child.stderr?.setEncoding('utf8').on('data', (chunk: string) => void (pendingOutput = tail(pendingOutput + chunk, OUTPUT_CHUNK_BYTES_MAX)));
    child.stdin?.on('error', () => {}); // a command that does not read its stdin
    child.stdin?.end(item.payload);
    const exited = new Promise<{ code: number | null; signal: string | null; error: string | null }>((resolve) => {
      child.on('error', (error) => resolve({ code: null, signal: null, error: error.message }));
      child.on('close', (code, signal) => resolve({ code, signal, error: null }));
    });
    let gone = false;
    const beatEveryMs = Math.max(200, Math.floor(item.leaseMs / 3));
    const beats = (async () => {
      for (;;) {
        const done = await Promise.race([exited.then(() => true), sleep(beatEveryMs).then(() => false)]);
        if (done || gone) return;
        const output = pendingOutput;
        pendingOutput = '';
        const answer = await this.report(item, 'heartbeat', { output }).catch(() => 'ok' as const);
        if (answer === 'gone') {
          gone = true;
          this.o.log(`run ${item.runId} attempt ${item.attempt} is no longer ours (lease lost or killed): stopping the command`);
          child.kill('SIGTERM');
          return;
        }
      }
    })();
    const exit = await exited;
    await beats;
    if (gone) return;
    const output = pendingOutput;
    if (exit.code === 0 && stdoutBytes <= RESULT_BYTES_MAX) {
      await this.report(item, 'complete', { result: stdout, output });
      return;
    }
    const why = exit.error !== null ? `cannot run ${this.o.program}: ${exit.error}`
      : exit.code === 0 ? `stdout is ${stdoutBytes} bytes, over the ${RESULT_BYTES_MAX}-byte result limit`
        : exit.signal !== null ? `killed by ${exit.signal}` : `exit code ${exit.code ?? '?'}`;
    await this.report(item, 'fail', { error: why, output, retry: exit.code !== 0 || exit.error !== null });
  }
}

/** `chime functions` and `chime workers`: the lists of GET /v1/functions and /v1/workers. */
export async function listCommand(which: 'functions' | 'workers', args: string[], out: (s: string) => void): Promise<void> {
  const { values } = parseFlags(which, args, { server: { type: 'string' }, ...OUTPUT_FLAGS, stale: { type: 'boolean' }, help: { type: 'boolean' } }, false);
  if (values.help === true) return out(which === 'functions' ? FUNCTIONS_HELP : WORKERS_HELP);
  const send = apiSender(serverList(values.server));
  const answer = await send('GET', `/v1/${which}${values.stale === true ? '?stale=true' : ''}`);
  if (answer.status !== 200) throw new OperationError(problemLine(answer));
  const output = outputOptions(values);
  const doc = document(answer.body, output);
  if (doc !== null) return out(doc);
  const items = listOf(fieldsOf(answer.body, which), 'items', which, (v, what) => fieldsOf(v, what));
  if (which === 'functions') {
    return out(table(['FUNCTION', 'QUEUED', 'HIGH', 'NORMAL', 'LOW', 'RUNNING', 'WORKERS', 'WAITING'], items.map((f) => {
      const byPriority = fieldsOf(f['queuedByPriority'], 'queuedByPriority');
      return [text(f, 'name', 'function'), num(f, 'queued', 'function'), num(byPriority, 'high', 'priority'), num(byPriority, 'normal', 'priority'),
        num(byPriority, 'low', 'priority'), num(f, 'running', 'function'), num(f, 'workers', 'function'), num(f, 'waiting', 'function')];
    })));
  }
  out(table(['WORKER', 'FUNCTIONS', 'NODE', 'LAST SEEN', 'RUNNING'], items.map((w) => [
    text(w, 'worker', 'worker'), listOf(w, 'functions', 'worker', (v) => String(v)).join(','), text(w, 'node', 'worker'),
    formatTime(text(w, 'lastSeenAt', 'worker'), output.utc), num(w, 'running', 'worker'),
  ])));
}
