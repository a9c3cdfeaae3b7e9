// Scheduler policies with real agents: one 3-node cluster shared by every case (they run
// concurrently), each job appending to an outside sink file.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { waitFor, type ProcessCluster } from '../support/process-cluster.js';
import { cli, foundTagged, getRun, groupAlive, isFinal, listRuns, putJob, readSink, runNow, sinkEcho, waitRun, type Run } from './process-support.js';

let cluster: ProcessCluster;
let dir: string;
let sink: string;

/** How long after a run's finishedAt the leader may still hold it active (see the forbid case). */
const REPORT_LAG_MS_MAX = 1200;
const ms = (iso: string | null): number => (iso === null ? Number.NaN : Date.parse(iso));
const sinkOf = (job: string) => readSink(sink).filter((l) => l.job === job);

async function pause(id: string): Promise<void> {
  const answer = await cluster.call('n1', 'POST', `/v1/jobs/${id}/pause`);
  assert.equal(answer.status, 200, answer.text);
}

async function settled(id: string): Promise<Run[]> {
  return waitFor(`every run of ${id} to end`, async () => {
    const runs = await listRuns(cluster, id);
    return runs.every(isFinal) ? runs : undefined;
  }, 40_000, 200);
}

/** The process group a sink line recorded as its last word ($$ of the shell). */
function pgidOf(job: string, runId: string): number {
  const line = sinkOf(job).find((l) => l.runId === runId);
  assert.ok(line !== undefined, `${job} ${runId} wrote to the sink`);
  return Number(line.rest[0]);
}

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'chime-policies-'));
  sink = join(dir, 'sink.txt');
  // No case here moves leadership on purpose. Their answers (a manual run's 200, a run on
  // every live node) assume one leader throughout; with the default 250 ms election timeout a
  // loaded machine's stalls now and then start an election mid-case.
  cluster = await foundTagged(dir, 3, [['zone=a'], ['zone=b'], ['zone=b']], false, ['--election-ms', '1000']);
});

after(async () => {
  await cluster?.stopAll();
  rmSync(dir, { recursive: true, force: true });
});

describe('scheduler policies on a real 3-node cluster', { concurrency: true, timeout: 80_000 }, () => {
  test('forbid: instants that fall while the previous run is active are recorded skipped', async () => {
    // Runs of 2.5 s every 2 s: the instant 2 s into a run falls while it runs (skipped), the one
    // at 4 s comes 1.5 s after it ended (runs, unless its finish report took that long).
    await putJob(cluster, 'forbid', { schedule: '*/2 * * * * *', concurrency: 'forbid', executor: { type: 'shell', command: `${sinkEcho(sink, 'forbid')}; sleep 2.5` } });
    await waitFor('two forbid runs and a skip', async () => {
      const runs = await listRuns(cluster, 'forbid');
      return runs.filter((r) => r.status === 'succeeded').length >= 2 && runs.some((r) => r.status === 'skipped');
    }, 30_000, 200);
    await pause('forbid');
    const runs = (await settled('forbid')).reverse();
    const ran = runs.filter((r) => r.status !== 'skipped');
    const skipped = runs.filter((r) => r.status === 'skipped');
    for (const s of skipped) {
      assert.match(s.reason ?? '', /forbid/);
      const t = ms(s.scheduledAt);
      // The leader counts a run active until it has committed the run's finish report, which
      // comes after the executor's finishedAt: by a few ms on a quiet machine, by over 200 ms
      // on a loaded one. A skip 1.5 s after the run ended (one instant too many) still fails.
      // The exact rule is pinned in the simulated world (src/scheduler/policies.test.ts).
      assert.ok(ran.some((r) => ms(r.scheduledAt) < t && ms(r.finishedAt) > t - REPORT_LAG_MS_MAX), `skipped ${s.scheduledAt} fell while a run was active`);
    }
    for (let i = 1; i < ran.length; i++) assert.ok(ms(ran[i]!.startedAt) >= ms(ran[i - 1]!.finishedAt), `${ran[i]!.scheduledAt} started after the previous run ended`);
    assert.equal(sinkOf('forbid').length, ran.length, 'every run that was not skipped executed once');
  });

  test('replace: the active run is killed (its process group gone) and a new one starts', async () => {
    await putJob(cluster, 'replace', { schedule: '*/2 * * * * *', concurrency: 'replace', executor: { type: 'shell', command: `${sinkEcho(sink, 'replace', '$$')}; sleep 30 & wait` } });
    const killed = await waitFor('a replaced run', async () => (await listRuns(cluster, 'replace')).find((r) => r.status === 'killed'), 30_000, 200);
    await pause('replace');
    const later = await waitFor('the replacing run to start', async () => (await listRuns(cluster, 'replace')).find((r) => ms(r.scheduledAt) > ms(killed.scheduledAt) && r.startedAt !== null), 10_000, 100);
    assert.equal(killed.executions[0]?.status, 'killed');
    await waitFor('the replaced process group to be gone', () => !groupAlive(pgidOf('replace', killed.runId)));
    // Clean up the newest run by request.
    for (const run of await listRuns(cluster, 'replace')) if (!isFinal(run)) await cluster.call('n1', 'POST', `/v1/runs/${run.runId}/kill`);
    const runs = await settled('replace');
    assert.ok(runs.some((r) => r.runId === later.runId), 'the replacing run is recorded');
    assert.ok(sinkOf('replace').some((l) => l.runId === later.runId), 'the replacing run executed');
  });

  test('allow: runs of one job overlap', async () => {
    await putJob(cluster, 'allow', { schedule: '* * * * * *', concurrency: 'allow', executor: { type: 'shell', command: `${sinkEcho(sink, 'allow')}; sleep 2.5` } });
    await waitFor('three allow runs started', async () => (await listRuns(cluster, 'allow')).filter((r) => r.startedAt !== null).length >= 3, 30_000, 200);
    await pause('allow');
    const runs = (await settled('allow')).reverse().filter((r) => r.status === 'succeeded');
    assert.ok(runs.length >= 3);
    assert.ok(runs.some((r, i) => i > 0 && ms(r.startedAt) < ms(runs[i - 1]!.finishedAt)), 'a run started before the previous one ended');
    assert.equal(runs.filter((r) => r.status === 'skipped').length, 0);
  });

  test('retry: a failed attempt is retried after its backoff as attempt 2 of the same run', async () => {
    const marker = join(dir, 'retry-marker');
    await putJob(cluster, 'retry', {
      schedule: '@manual',
      retry: { max: 2, backoffMs: 600, maxBackoffMs: 5000 },
      executor: { type: 'shell', command: `${sinkEcho(sink, 'retry')}; if [ -e ${marker} ]; then echo second; exit 0; fi; touch ${marker}; echo first; exit 3` },
    });
    const runId = await runNow(cluster, 'retry');
    const run = await waitRun(cluster, runId, 'succeeded', (r) => r.status === 'succeeded');
    assert.equal(run.attempt, 2);
    assert.deepEqual(run.executions.map((e) => [e.attempt, e.status, e.exitCode]), [[1, 'failed', 3], [2, 'succeeded', 0]]);
    const gapMs = ms(run.executions[1]!.startedAt) - ms(run.executions[0]!.finishedAt);
    assert.ok(gapMs >= 600 * 0.9, `attempt 2 waited its backoff (${gapMs} ms)`);
    assert.deepEqual(sinkOf('retry').map((l) => [l.runId, l.attempt]), [[runId, 1], [runId, 2]]);

    // The CLI shows the same run.
    const server = cluster.url('n2', '');
    const list = await cli(['run', 'list', 'retry', '--utc', '--server', server]);
    assert.equal(list.code, 0, list.stderr);
    assert.match(list.stdout, /RUN\s+SCHEDULED\s+TRIGGER\s+ATTEMPT\s+STATUS\s+NODES\s+DURATION\s+LATE/);
    assert.match(list.stdout, new RegExp(`${runId}\\s+\\S+\\s+manual\\s+2\\s+succeeded\\s+n\\d(,n\\d)*\\s+(\\d+\\.)?\\d+m?s`));
    const get = await cli(['run', 'get', runId, '--utc', '--server', server]);
    assert.equal(get.code, 0, get.stderr);
    assert.match(get.stdout, new RegExp(`run ${runId}  job retry  succeeded  attempt 2  trigger manual`));
    assert.match(get.stdout, /-- n\d attempt 1: failed \(exit 3\)[^\n]*\nfirst\n/);
    assert.match(get.stdout, /-- n\d attempt 2: succeeded \(exit 0\)[^\n]*\nsecond\n/);
    const json = await cli(['run', 'get', runId, '--json', '--server', server]);
    assert.equal((JSON.parse(json.stdout) as Run).runId, runId);
    const missing = await cli(['run', 'get', 'no-such-run', '--server', server]);
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /404|not exist/);
  });

  test('timeout: timeoutMs ends the run timed_out and its whole process group is gone', async () => {
    await putJob(cluster, 'timeout', { schedule: '@manual', timeoutMs: 1000, executor: { type: 'shell', command: `${sinkEcho(sink, 'timeout', '$$')}; sleep 30 & wait` } });
    const runId = await runNow(cluster, 'timeout');
    const run = await waitRun(cluster, runId, 'timed out', (r) => r.status === 'timed_out');
    const tookMs = ms(run.finishedAt) - ms(run.startedAt);
    // Node's timers run off a loop clock cached in whole milliseconds, so the kill can come a
    // millisecond before Date.now() says 1000 ms passed.
    assert.ok(tookMs >= 998 && tookMs < 2500, `killed after ${tookMs} ms`);
    await waitFor('the timed-out process group to be gone', () => !groupAlive(pgidOf('timeout', runId)));
  });

  test('kill: POST /v1/runs/{id}/kill and chime run kill end a running run killed', async () => {
    await putJob(cluster, 'killme', { schedule: '@manual', concurrency: 'allow', executor: { type: 'shell', command: `${sinkEcho(sink, 'killme', '$$')}; sleep 30 & wait` } });
    const viaApi = await runNow(cluster, 'killme');
    const viaCli = await runNow(cluster, 'killme');
    for (const id of [viaApi, viaCli]) {
      await waitRun(cluster, id, 'running', (r) => r.status === 'running');
      await waitFor(`${id} in the sink`, () => sinkOf('killme').some((l) => l.runId === id));
    }
    const answer = await cluster.call('n3', 'POST', `/v1/runs/${viaApi}/kill`);
    assert.equal(answer.status, 202, answer.text);
    const command = await cli(['run', 'kill', viaCli, '--server', cluster.url('n2', '')]);
    assert.equal(command.code, 0, command.stderr);
    assert.match(command.stdout, /kill requested/);
    for (const id of [viaApi, viaCli]) {
      const run = await waitRun(cluster, id, 'killed', (r) => r.status === 'killed');
      assert.equal(run.executions[0]?.status, 'killed');
      await waitFor(`${id}'s process group to be gone`, () => !groupAlive(pgidOf('killme', id)));
    }
    const again = await cluster.call('n1', 'POST', `/v1/runs/${viaApi}/kill`);
    assert.equal(again.status, 409, `killing an ended run is refused: ${again.text}`);
  });

  test('after: B runs when A succeeds, not when A fails', async () => {
    await putJob(cluster, 'upstream', { schedule: '@manual', executor: { type: 'shell', command: `${sinkEcho(sink, 'upstream')}; [ "$CHIME_PAYLOAD" = ok ]` } });
    await putJob(cluster, 'downstream', { schedule: '@manual', after: ['upstream'], executor: { type: 'shell', command: sinkEcho(sink, 'downstream') } });
    const failed = await cluster.call('n2', 'POST', '/v1/jobs/upstream/run?wait=30s', { payload: 'bad' });
    assert.equal(failed.status, 200, failed.text);
    assert.equal((failed.body as Run).status, 'failed');
    const ok = await cluster.call('n2', 'POST', '/v1/jobs/upstream/run?wait=30s', { payload: 'ok' });
    assert.equal((ok.body as Run).status, 'succeeded');
    const runs = await waitFor('the downstream run to end', async () => {
      const r = await listRuns(cluster, 'downstream');
      return r.length > 0 && r.every(isFinal) ? r : undefined;
    }, 20_000, 100);
    assert.deepEqual(runs.map((r) => [r.trigger, r.status]), [['after', 'succeeded']]);
    assert.equal(sinkOf('downstream').length, 1);
  });

  test('manual: payload, idempotency key (same key, same run) and ?wait= returning the finished record', async () => {
    await putJob(cluster, 'manual', { schedule: '@manual', executor: { type: 'shell', command: `${sinkEcho(sink, 'manual', '"$CHIME_PAYLOAD"')}; echo "got $CHIME_PAYLOAD"` } });
    const first = await cluster.call('n3', 'POST', '/v1/jobs/manual/run?wait=30s', { payload: 'hello', key: 'k-1' });
    assert.equal(first.status, 200, first.text);
    const run = first.body as Run;
    assert.equal(run.status, 'succeeded');
    assert.equal(run.trigger, 'manual');
    assert.equal(run.payload, 'hello');
    assert.ok(run.finishedAt !== null);
    assert.equal(run.executions[0]?.output, 'got hello\n');
    const again = await cluster.call('n1', 'POST', '/v1/jobs/manual/run', { payload: 'other', key: 'k-1' });
    assert.equal(again.status, 202, again.text);
    assert.deepEqual({ runId: (again.body as Run).runId, duplicate: (again.body as { duplicate: boolean }).duplicate }, { runId: run.runId, duplicate: true });
    const other = await cluster.call('n1', 'POST', '/v1/jobs/manual/run?wait=30s', { key: 'k-2' });
    assert.notEqual((other.body as Run).runId, run.runId);
    assert.deepEqual(sinkOf('manual').map((l) => [l.runId, l.rest.join(' ')]), [[run.runId, 'hello'], [(other.body as Run).runId, '']]);
    const bad = await cluster.call('n1', 'POST', '/v1/jobs/manual/run?wait=soon', {});
    assert.equal(bad.status, 400);
    const unknownJob = await cluster.call('n1', 'POST', '/v1/jobs/no-such-job/run', {});
    assert.equal(unknownJob.status, 404);
  });

  test('targets: all (one execution per live node), tags with and without count, leader', async () => {
    const spec = (target: Record<string, unknown>) => ({ schedule: '@manual', target, executor: { type: 'shell', command: sinkEcho(sink, `t-${String(target['mode'])}-${String(target['count'] ?? 'x')}`) } });
    await putJob(cluster, 'all', spec({ mode: 'all' }));
    await putJob(cluster, 'tags1', spec({ mode: 'tags', tags: { zone: 'b' }, count: 1 }));
    await putJob(cluster, 'tags', spec({ mode: 'tags', tags: { zone: 'b' } }));
    await putJob(cluster, 'leader', spec({ mode: 'leader' }));
    const run = async (job: string) => {
      const a = await cluster.call('n1', 'POST', `/v1/jobs/${job}/run?wait=30s`, {});
      assert.equal(a.status, 200, a.text);
      const r = a.body as Run;
      assert.equal(r.status, 'succeeded', `${job}: ${JSON.stringify(r)}`);
      const sinkNodes = readSink(sink).filter((l) => l.runId === r.runId).map((l) => l.node).sort();
      assert.deepEqual(r.executions.map((e) => e.node).sort(), sinkNodes, `${job}: the sink saw one execution per recorded node`);
      return sinkNodes;
    };
    assert.deepEqual(await run('all'), ['n1', 'n2', 'n3']);
    assert.deepEqual(await run('tags'), ['n2', 'n3']);
    for (let i = 0; i < 3; i++) {
      const nodes = await run('tags1');
      assert.equal(nodes.length, 1);
      assert.ok(['n2', 'n3'].includes(nodes[0]!), `tags count 1 ran on ${nodes[0]}`);
    }
    const leader = ((await cluster.call('n1', 'GET', '/v1/cluster')).body as { leader: string }).leader;
    assert.deepEqual(await run('leader'), [leader]);
    const r = await getRun(cluster, readSink(sink).filter((l) => l.job === 't-all-x')[0]!.runId);
    assert.equal(r.executions.length, 3);
  });
});
