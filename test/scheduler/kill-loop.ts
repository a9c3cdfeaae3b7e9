// The kill loop (G1-G3 through failover): every-second jobs append
// "$CHIME_SCHEDULED_AT $CHIME_RUN_ID $CHIME_ATTEMPT" to an outside sink while the leader is
// killed with SIGKILL and restarted, again and again. Afterwards every instant in the
// window must have exactly one run record and at least one execution in the sink, and no
// (runId, attempt) may have executed twice.
import { mkdtempSync, readFileSync, rmSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ProcessCluster, waitFor } from '../support/process-cluster.js';

export interface KillLoopResult {
  readonly kills: number;
  readonly instants: number;
  readonly missing: string[];
  readonly duplicateRecords: string[];
  readonly notExecuted: string[];
  readonly executedTwice: string[];
  readonly statuses: Readonly<Record<string, number>>;
}

interface Run {
  runId: string;
  scheduledAt: string;
  status: string;
}

export async function killLoop(options: { kills: number; jobs: number; keep?: boolean; log?: (s: string) => void; minWindowMs?: number }): Promise<KillLoopResult> {
  const log = options.log ?? (() => {});
  const dir = mkdtempSync(join(tmpdir(), 'chime-killloop-'));
  const sink = join(dir, 'sink.txt');
  const cluster = await ProcessCluster.grow(3, { dir });
  try {
    const leader0 = await cluster.waitForLeader();
    const jobIds = Array.from({ length: options.jobs }, (_, i) => `every-second-${i}`);
    for (const id of jobIds) {
      const answer = await cluster.call(leader0, 'PUT', `/v1/jobs/${id}`, {
        schedule: '* * * * * *',
        concurrency: 'allow',
        misfire: { policy: 'fire-all', windowMs: 600_000 },
        // A run whose executor was the killed node ends lost and is retried (G3: at least once).
        retry: { max: 5, backoffMs: 100, maxBackoffMs: 1000 },
        executor: { type: 'shell', command: `echo "${id} $CHIME_SCHEDULED_AT $CHIME_RUN_ID $CHIME_ATTEMPT $CHIME_NODE_ID" >> ${sink}` },
      });
      if (answer.status !== 201) throw new Error(`creating ${id}: ${answer.status} ${answer.text}`);
    }
    const startMs = Date.now() + 1500;
    for (let k = 0; k < options.kills; k++) {
      const leader = await cluster.waitForLeader(30_000);
      // Let the cluster fire for a moment under this leader, then kill it.
      await new Promise((r) => setTimeout(r, 700 + ((k * 373) % 900)));
      await cluster.signal(leader, 'SIGKILL');
      log(`kill ${k + 1}/${options.kills}: ${leader}`);
      await cluster.waitForLeader(30_000);
      await cluster.restart(leader);
    }
    // The window checked is time, not a number of kills: a fast machine must not shrink it.
    const windowUntil = startMs + (options.minWindowMs ?? 8000) + 3000;
    await new Promise((r) => setTimeout(r, Math.max(2000, windowUntil - Date.now())));
    const endMs = Date.now() - 3000;
    const leader = await cluster.waitForLeader(30_000);
    // Wait until every instant of the window has a finished record.
    const records = new Map<string, Run[]>();
    await waitFor('every run in the window to finish', async () => {
      records.clear();
      for (const id of jobIds) {
        const page = (await cluster.call(leader, 'GET', `/v1/jobs/${id}/runs?limit=1000`)).body as { items: Run[] };
        for (const run of page.items) {
          const t = Date.parse(run.scheduledAt);
          if (t < startMs || t > endMs) continue;
          const key = `${id} ${run.scheduledAt}`;
          records.set(key, [...(records.get(key) ?? []), run]);
        }
      }
      return [...records.values()].every((runs) => runs.every((r) => r.status !== 'pending' && r.status !== 'running'));
    }, 60_000, 200);
    const executions = existsSync(sink) ? readFileSync(sink, 'utf8').trim().split('\n').filter(Boolean) : [];
    const executedKeys = new Map<string, number>();
    const executedInstants = new Set<string>();
    for (const line of executions) {
      const [job, scheduledAt, runId, attempt] = line.split(' ');
      const pair = `${runId} ${attempt}`;
      executedKeys.set(pair, (executedKeys.get(pair) ?? 0) + 1);
      executedInstants.add(`${job} ${scheduledAt}`);
    }
    const missing: string[] = [];
    const duplicateRecords: string[] = [];
    const notExecuted: string[] = [];
    let instants = 0;
    for (const id of jobIds) {
      for (let t = Math.ceil(startMs / 1000) * 1000; t <= endMs; t += 1000) {
        instants++;
        const key = `${id} ${new Date(t).toISOString()}`;
        const runs = records.get(key) ?? [];
        if (runs.length === 0) missing.push(key);
        if (runs.length > 1) duplicateRecords.push(key);
        if (!executedInstants.has(key)) notExecuted.push(key);
      }
    }
    const executedTwice = [...executedKeys].filter(([, n]) => n > 1).map(([k]) => k);
    const statuses: Record<string, number> = {};
    for (const runs of records.values()) for (const run of runs) statuses[run.status] = (statuses[run.status] ?? 0) + 1;
    return { kills: options.kills, instants, missing, duplicateRecords, notExecuted, executedTwice, statuses };
  } finally {
    await cluster.stopAll();
    if (options.keep !== true) rmSync(dir, { recursive: true, force: true });
    else log(`kept ${dir}`);
  }
}
