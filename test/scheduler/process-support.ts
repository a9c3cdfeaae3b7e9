// Shared helpers for the scheduler tests with real agents: a 3-node cluster whose nodes carry
// `--tag name=<id>` (and extra tags), jobs whose command appends
// "JOB $CHIME_SCHEDULED_AT $CHIME_RUN_ID $CHIME_ATTEMPT $CHIME_NODE_ID ..." to an outside
// sink file, and readers for runs and sink lines.
import { execFile } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ProcessCluster, freePorts, waitFor } from '../support/process-cluster.js';
import { groupHasLiveMember } from '../../src/executor/process-group.js';

export const CLI_MAIN = resolve(fileURLToPath(import.meta.url), '..', '..', '..', 'src', 'cli', 'main.js');

export interface Execution {
  node: string;
  attempt: number;
  status: string;
  exitCode: number | null;
  output: string;
  error: string | null;
  startedAt: string | null;
  finishedAt: string | null;
}

export interface Run {
  runId: string;
  jobId: string;
  scheduledAt: string;
  trigger: string;
  attempt: number;
  status: string;
  firedAt: string;
  startedAt: string | null;
  finishedAt: string | null;
  executions: Execution[];
  reason: string | null;
  payload: string | null;
}

export interface SinkLine {
  job: string;
  scheduledAt: string;
  runId: string;
  attempt: number;
  node: string;
  /** Whatever the command appended after the node id. */
  rest: string[];
}

const FINAL = new Set(['succeeded', 'failed', 'timed_out', 'killed', 'lost', 'skipped']);

export function isFinal(run: Run): boolean {
  return FINAL.has(run.status);
}

/**
 * Founds `count` nodes n1..nN with a static peer list; node i gets `--tag name=ni` plus the
 * tags in `tags[i]`, so tests can pin a run to one node.
 */
export function foundTagged(dir: string, count: number, tags: readonly (readonly string[])[] = [], faults = false, args: readonly string[] = []): Promise<ProcessCluster> {
  return ProcessCluster.found(count, { dir, faults, args }, (id, i) => tagArgs(id, tags[i] ?? []));
}

export function tagArgs(id: string, extra: readonly string[]): string[] {
  return ['--tag', `name=${id}`, ...extra.flatMap((t) => ['--tag', t])];
}

/** The shell snippet that appends one sink line; `extra` is appended after the node id. */
export function sinkEcho(sink: string, job: string, extra = ''): string {
  return `echo "${job} $CHIME_SCHEDULED_AT $CHIME_RUN_ID $CHIME_ATTEMPT $CHIME_NODE_ID${extra === '' ? '' : ` ${extra}`}" >> ${sink}`;
}

export function readSink(sink: string): SinkLine[] {
  if (!existsSync(sink)) return [];
  return readFileSync(sink, 'utf8').split('\n').filter(Boolean).map((line) => {
    const [job = '', scheduledAt = '', runId = '', attempt = '0', node = '', ...rest] = line.split(' ');
    return { job, scheduledAt, runId, attempt: Number(attempt), node, rest };
  });
}

export async function putJob(cluster: ProcessCluster, id: string, spec: Record<string, unknown>): Promise<void> {
  const node = cluster.live()[0]!.id;
  const answer = await cluster.call(node, 'PUT', `/v1/jobs/${id}`, spec);
  if (answer.status !== 201 && answer.status !== 200) throw new Error(`PUT ${id}: ${answer.status} ${answer.text}`);
}

export async function listRuns(cluster: ProcessCluster, jobId: string): Promise<Run[]> {
  const node = cluster.live()[0]!.id;
  const answer = await cluster.call(node, 'GET', `/v1/jobs/${jobId}/runs?limit=1000`);
  if (answer.status !== 200) throw new Error(`runs of ${jobId}: ${answer.status} ${answer.text}`);
  return (answer.body as { items: Run[] }).items;
}

export async function getRun(cluster: ProcessCluster, runId: string): Promise<Run> {
  const node = cluster.live()[0]!.id;
  const answer = await cluster.call(node, 'GET', `/v1/runs/${runId}`);
  if (answer.status !== 200) throw new Error(`run ${runId}: ${answer.status} ${answer.text}`);
  return answer.body as Run;
}

/** Starts a manual run and returns its id. */
export async function runNow(cluster: ProcessCluster, jobId: string, body: Record<string, unknown> = {}): Promise<string> {
  const node = cluster.live()[0]!.id;
  const answer = await waitFor(`manual run of ${jobId} accepted`, async () => {
    const a = await cluster.call(node, 'POST', `/v1/jobs/${jobId}/run`, body);
    return a.status === 503 ? undefined : a;
  }, 15_000, 100);
  if (answer.status !== 202) throw new Error(`run ${jobId}: ${answer.status} ${answer.text}`);
  return (answer.body as { runId: string }).runId;
}

export function waitRun(cluster: ProcessCluster, runId: string, what: string, check: (run: Run) => boolean, timeoutMs = 20_000): Promise<Run> {
  return waitFor(`run ${runId} ${what}`, async () => {
    const run = await getRun(cluster, runId);
    return check(run) ? run : undefined;
  }, timeoutMs, 100);
}

/** True while a process group with this id has a member that is not a zombie. */
export function groupAlive(pgid: number): boolean {
  try {
    process.kill(-pgid, 0);
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
  return groupHasLiveMember(pgid);
}

export function cli(args: readonly string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((done) => {
    execFile(process.execPath, [CLI_MAIN, ...args], { timeout: 20_000 }, (error, stdout, stderr) => {
      const code = error === null ? 0 : typeof error.code === 'number' ? error.code : 1;
      done({ code, stdout, stderr });
    });
  });
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
