// GET /v1/runs/{runId}/output: a run's full stdout/stderr from any node. The node that
// executed the run streams it from its disk; any other node proxies to that node. When the
// executing node cannot be reached (or no longer holds the files), the answer is the run
// record's 64 KiB tail with a note saying so. Memory per stream is bounded on every hop: the
// disk reader reads nothing ahead, the next chunk is read only after the client took the last
// one (`drain`), a proxy pipes with backpressure, and a client that stops reading for
// OUTPUT_DRAIN_TIMEOUT_MS is cut off. Concurrent streams are bounded per node (429).
import { request as httpRequest, type IncomingMessage, type ServerResponse } from 'node:http';
import { ChimeError } from '../errors/index.js';
import { isActiveStatus, type RunRecord } from '../statemachine/index.js';
import { readBarrier, runIdParam } from './params.js';
import type { JobService, OutputChunks, OutputService, ReadBarrier } from './services.js';
import type { RequestContext, Route } from './server.js';

/** Streams this node proxies at once; beyond it a request gets 429 OUTPUT_READERS_FULL. */
export const OUTPUT_PROXIES_MAX = 256;
/** A client that reads nothing for this long loses its stream (its reader and files are closed). */
export const OUTPUT_DRAIN_TIMEOUT_MS = 60_000;
/** With follow, how long a run that has not started writing here yet is waited for. */
export const OUTPUT_APPEAR_WAIT_MS = 30_000;
const OUTPUT_APPEAR_POLL_MS = 100;
/** Set on a proxied request: the receiving node serves from its disk and never proxies again. */
const HOP_HEADER = 'x-chime-output-hop';
const STREAMS = ['stdout', 'stderr', 'both'] as const;
type Stream = (typeof STREAMS)[number];

type OutputQuery = { readonly stream: Stream; readonly follow: boolean; readonly attempt: number | null; readonly node: string | null };

function queryOf(q: URLSearchParams): OutputQuery {
  const streamText = q.get('stream') ?? 'both';
  const stream = STREAMS.find((s) => s === streamText);
  if (stream === undefined) throw new ChimeError('INVALID_REQUEST', 'stream must be stdout, stderr or both', { errors: [{ path: 'stream', message: 'expected stdout|stderr|both' }] });
  const followText = q.get('follow');
  if (followText !== null && followText !== 'true' && followText !== 'false') throw new ChimeError('INVALID_REQUEST', 'follow must be true or false', { errors: [{ path: 'follow', message: 'expected true|false' }] });
  const attemptText = q.get('attempt');
  const attempt = attemptText === null ? null : Number(attemptText);
  if (attempt !== null && (!Number.isSafeInteger(attempt) || attempt < 1)) throw new ChimeError('INVALID_REQUEST', 'attempt must be a positive integer', { errors: [{ path: 'attempt', message: 'expected 1, 2, …' }] });
  return { stream, follow: followText === 'true', attempt, node: q.get('node') };
}

/** Whether `attempt` of the run is still pending or running on `node`. */
function runsOn(run: RunRecord | null, node: string, attempt: number): boolean {
  return run !== null && run.executions.some((e) => e.attempt === attempt && e.node === node && isActiveStatus(e.status));
}

/** One wait between two looks for what a followed run still lacks (its record, its file, its node's address). */
function pollPause(): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, OUTPUT_APPEAR_POLL_MS));
}

/** The node whose disk holds the output asked for, or null when the run never executed. */
function executingNode(run: RunRecord, q: OutputQuery): { node: string; attempt: number } | null {
  const attempt = q.attempt ?? run.attempt;
  const executions = run.executions.filter((e) => e.attempt === attempt);
  const chosen = q.node === null ? executions.find((e) => e.startedAt !== null) ?? executions[0] : executions.find((e) => e.node === q.node);
  return chosen === undefined ? null : { node: chosen.node, attempt };
}

function startText(res: ServerResponse, source: 'stored' | 'tail', node: string | null, note: string | null): void {
  const headers: Record<string, string> = {
    'content-type': 'text/plain; charset=utf-8', 'cache-control': 'no-store', 'x-content-type-options': 'nosniff', 'chime-output-source': source,
  };
  if (node !== null) headers['chime-output-node'] = node;
  if (note !== null) headers['chime-output-note'] = note;
  res.writeHead(200, headers);
}

/** The record's tail: what is left when the full output is out of reach. */
function sendTail(res: ServerResponse, run: RunRecord, attempt: number, node: string | null, note: string): void {
  startText(res, 'tail', node, note);
  const executions = run.executions.filter((e) => e.attempt === attempt && (node === null || e.node === node));
  res.end(executions.map((e) => e.output).join(''));
}

/** Waits until the client took the last chunk, or gives up after OUTPUT_DRAIN_TIMEOUT_MS. */
function drained(res: DrainTarget, timeoutMs: number): Promise<boolean> {
  return new Promise((resolve) => {
    const done = (ok: boolean): void => {
      clearTimeout(timer);
      res.off('drain', onDrain);
      res.off('close', onClose);
      resolve(ok);
    };
    const onDrain = (): void => done(true);
    const onClose = (): void => done(false);
    const timer = setTimeout(() => done(false), timeoutMs);
    res.on('drain', onDrain);
    res.on('close', onClose);
  });
}

/** What pump needs of a response (a ServerResponse; a test double in tests). */
export interface DrainTarget {
  readonly destroyed: boolean;
  write(chunk: Uint8Array): boolean;
  end(): void;
  destroy(): void;
  on(event: 'drain' | 'close', listener: () => void): unknown;
  once(event: 'close', listener: () => void): unknown;
  off(event: 'drain' | 'close', listener: () => void): unknown;
}

/**
 * Copies chunks to the client one at a time: the next chunk is read only once the last one
 * was taken (`drain`), so a slow client holds at most one chunk here plus the socket's
 * buffers; one that takes nothing for `drainTimeoutMs` is cut off.
 */
export async function pump(res: DrainTarget, chunks: OutputChunks, drainTimeoutMs: number = OUTPUT_DRAIN_TIMEOUT_MS): Promise<void> {
  const onClose = (): void => void chunks.close();
  res.once('close', onClose);
  try {
    for (;;) {
      const next = await chunks.next();
      if (next.done === true || res.destroyed) break;
      if (!res.write(next.value) && !(await drained(res, drainTimeoutMs))) {
        res.destroy();
        break;
      }
    }
    if (!res.destroyed) res.end();
  } finally {
    res.off('close', onClose);
    await chunks.close();
  }
}

/** The client's own response: output is a read, served where the client asked, never forwarded. */
function streamOf(ctx: RequestContext): ServerResponse {
  if (ctx.stream === null) throw new ChimeError('INTERNAL', 'run output is a read and is never forwarded');
  return ctx.stream;
}

export function outputRoutes(output: OutputService, jobs: JobService, barrier: ReadBarrier): Route[] {
  let proxies = 0;

  const serveLocal = async (ctx: RequestContext, run: RunRecord, node: string, attempt: number, q: OutputQuery): Promise<void> => {
    const res = streamOf(ctx);
    // Only shell runs keep stdout and stderr on disk; an HTTP run's answer is its record's tail.
    if (jobs.table().getJob(run.jobId)?.executor.type === 'http') {
      return sendTail(res, run, attempt, node, "an HTTP run keeps no stored output; this is the run record's tail (the answer's last 64 KiB)");
    }
    const deadline = Date.now() + OUTPUT_APPEAR_WAIT_MS;
    for (;;) {
      const opened = await output.openLocal(run.runId, attempt, { stream: q.stream, follow: q.follow });
      if (opened.ok) {
        startText(res, 'stored', node, null);
        return pump(res, opened.chunks);
      }
      if (opened.reason === 'readers_full') throw new ChimeError('OUTPUT_READERS_FULL', 'too many output streams are open on this node; try again');
      // Not written here yet: a followed run that is still to start here, or whose output file is
      // not opened yet (the record says running before the first byte is stored), is waited for.
      const current = jobs.table().getRun(run.runId);
      const waiting = opened.reason === 'not_found' && q.follow && current !== null && current.attempt === attempt && runsOn(current, node, attempt);
      if (!waiting || Date.now() >= deadline || res.destroyed) {
        const why = opened.reason === 'disabled' ? 'this node does not keep run output' : 'no stored output of this attempt here (not started, evicted, or its job deleted)';
        return sendTail(res, current ?? run, attempt, node, `${why}; this is the run record's tail (last 64 KiB, stdout and stderr mixed)`);
      }
      await pollPause();
    }
  };

  const proxy = async (ctx: RequestContext, run: RunRecord, node: string, attempt: number, q: OutputQuery): Promise<void> => {
    const res = streamOf(ctx);
    const fallback = (why: string): void => sendTail(res, jobs.table().getRun(run.runId) ?? run, attempt, node,
      `the full output is on node ${node}, which ${why}; this is the run record's tail (last 64 KiB, stdout and stderr mixed)`);
    let address = output.httpOf(node);
    // A node learns a peer's HTTP address from its hellos (every second): a followed run on a
    // member this node has not heard from yet (just started, or just joined) is waited for.
    const deadline = Date.now() + OUTPUT_APPEAR_WAIT_MS;
    while (address === null && q.follow && Date.now() < deadline && !res.destroyed && runsOn(jobs.table().getRun(run.runId), node, attempt)) {
      await pollPause();
      address = output.httpOf(node);
    }
    if (address === null) return fallback('is not a member any more, or its address is not known here');
    if (proxies >= OUTPUT_PROXIES_MAX) throw new ChimeError('OUTPUT_READERS_FULL', `this node proxies ${OUTPUT_PROXIES_MAX} output streams already; try again`);
    proxies++;
    try {
      const search = new URLSearchParams(ctx.url.searchParams);
      search.set('attempt', String(attempt));
      search.set('node', node);
      const headers: Record<string, string> = { [HOP_HEADER]: '1' };
      const auth = ctx.req.headers.authorization;
      if (auth !== undefined) headers['authorization'] = auth;
      const upstream = await new Promise<IncomingMessage | Error>((resolve) => {
        const req = httpRequest(`http://${address}${ctx.url.pathname}?${search.toString()}`, { method: 'GET', headers, timeout: 5000 }, resolve);
        req.on('timeout', () => req.destroy(new Error('no answer within 5 s')));
        req.on('error', (error) => resolve(error));
        res.once('close', () => req.destroy());
        req.end();
      });
      if (upstream instanceof Error) return fallback(`could not be reached (${upstream.message})`);
      const passed: Record<string, string> = {};
      for (const name of ['content-type', 'cache-control', 'x-content-type-options', 'chime-output-source', 'chime-output-node', 'chime-output-note']) {
        const value = upstream.headers[name];
        if (typeof value === 'string') passed[name] = value;
      }
      res.writeHead(upstream.statusCode ?? 502, passed);
      // pipe() pauses the upstream while the client is slow: the proxy buffers at most the socket's high-water marks.
      await new Promise<void>((resolve) => {
        upstream.pipe(res);
        upstream.on('end', resolve);
        upstream.on('error', () => {
          res.destroy();
          resolve();
        });
        res.on('close', () => {
          upstream.destroy();
          resolve();
        });
      });
    } finally {
      proxies--;
    }
  };

  return [
    {
      method: 'GET',
      path: '/v1/runs/:runId/output',
      permission: 'runs.output',
      write: false,
      handle: async (ctx) => {
        const res = streamOf(ctx);
        const runId = runIdParam(ctx);
        const q = queryOf(ctx.url.searchParams);
        const hop = ctx.req.headers[HOP_HEADER] !== undefined;
        await readBarrier(barrier, ctx);
        let run = jobs.table().getRun(runId);
        // A manual run waiting for a free slot has no record until it fires: followed, it is waited for.
        const deadline = Date.now() + OUTPUT_APPEAR_WAIT_MS;
        while (run === null && jobs.table().waitingManualFire(runId) !== null) {
          if (!q.follow || Date.now() >= deadline || res.destroyed) {
            startText(res, 'tail', null, `run ${runId} waits for a free executor slot and has no output yet`);
            return void res.end();
          }
          await pollPause();
          run = jobs.table().getRun(runId);
        }
        if (run === null) throw new ChimeError('RUN_NOT_FOUND', `run ${runId} does not exist`);
        const target = executingNode(run, q);
        if (target === null) {
          return sendTail(res, run, q.attempt ?? run.attempt, null, `run ${runId} has no execution${q.node === null ? '' : ` on node ${q.node}`} for attempt ${q.attempt ?? run.attempt}`);
        }
        if (target.node === output.nodeId || hop) return serveLocal(ctx, run, target.node, target.attempt, q);
        return proxy(ctx, run, target.node, target.attempt, q);
      },
    },
  ];
}
