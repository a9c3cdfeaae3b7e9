// Notifications through real agents: a failing job's event reaches a receiver once, signed;
// `chime notify list|test` work; and a leader killed while deliveries are owed leaves a new
// leader that delivers every owed event, none acknowledged twice (by Chime-Event-Id).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ProcessCluster, waitFor } from '../support/process-cluster.js';
import { NotifyReceiver } from '../support/notify-receiver.js';
import { cli } from '../api/support.js';
import { parseExposition, sampleValue } from '../support/prometheus-text.js';

const KEY_TEXT = 'notify-key-for-the-process-test-0123456789';

type Notification = { eventId: string; event: string; jobId: string; runId: string; status: string; attempts: number; lastError: string | null };

function isNotification(v: unknown): v is Notification {
  return typeof v === 'object' && v !== null && 'eventId' in v && typeof v.eventId === 'string' && 'status' in v && typeof v.status === 'string';
}

async function notifications(cluster: ProcessCluster, via: string, query: string): Promise<Notification[]> {
  const answer = await cluster.call(via, 'GET', `/v1/notifications?limit=1000&${query}`);
  assert.equal(answer.status, 200, JSON.stringify(answer.body));
  const items: unknown = typeof answer.body === 'object' && answer.body !== null && 'items' in answer.body ? answer.body.items : null;
  assert.ok(Array.isArray(items));
  return items.filter(isNotification);
}

async function failRun(cluster: ProcessCluster, via: string, jobId: string): Promise<string> {
  const answer = await cluster.call(via, 'POST', `/v1/jobs/${jobId}/run?wait=20s`, {}, 25_000);
  assert.equal(answer.status, 200, JSON.stringify(answer.body));
  const body = answer.body;
  assert.ok(typeof body === 'object' && body !== null && 'runId' in body && typeof body.runId === 'string' && 'status' in body);
  assert.equal(body.status, 'failed');
  return body.runId;
}

test('webhooks: once per failed run, signed; chime notify list and test; exactly once through a leader kill', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'chime-notify-'));
  const keyFile = join(dir, 'notify.key');
  writeFileSync(keyFile, `  ${KEY_TEXT}\n`);
  const receiver = new NotifyReceiver(new TextEncoder().encode(KEY_TEXT));
  const hook = await receiver.start();
  const cluster = await ProcessCluster.found(3, { dir, args: ['--notify-key-file', keyFile] });
  try {
    const leader = await cluster.waitForLeader();
    const put = await cluster.call(leader, 'PUT', '/v1/jobs/fails', {
      schedule: '@manual', executor: { type: 'shell', command: 'echo broken >&2; exit 3' },
      notify: [{ on: ['failed', 'recovered'], url: hook, secretHeaders: { Authorization: 'Bearer receiver-secret' } }],
    });
    assert.equal(put.status, 201, JSON.stringify(put.body));
    assert.deepEqual(JSON.parse(JSON.stringify(put.body)).notify[0].secretHeaders, { Authorization: '***' }, 'a read never shows a secret');

    // 1. One failed run: one delivery, signed, with the run's facts.
    const termOf = async (): Promise<number> => ((await cluster.call(leader, 'GET', '/v1/cluster')).body as { term: number }).term;
    const termBefore = await termOf();
    const first = await failRun(cluster, leader, 'fails');
    await waitFor('the failed event delivered', () => receiver.acknowledged().has(`${first}:failed:0`), 10_000);
    const delivery = receiver.deliveries[0];
    assert.ok(delivery !== undefined && delivery.signatureOk);
    assert.equal(delivery.body['event'], 'failed');
    assert.equal(delivery.body['runId'], first);
    assert.equal(delivery.body['exitCode'], 3);
    assert.match(String(delivery.body['outputTail']), /broken/);
    await waitFor('the delivery recorded', async () => (await notifications(cluster, 'n1', 'job=fails&status=delivered')).length === 1, 10_000);
    // A repeat is allowed only in the crash window: leadership moved between the receiver's
    // 2xx and its commit (docs/alerting.md), which a loaded machine's stalls can cause.
    if (await termOf() === termBefore) assert.equal(receiver.deliveries.length, 1, 'sent once');
    else assert.deepEqual(new Set(receiver.deliveries.map((d) => d.body['eventId'])), new Set([`${first}:failed:0`]), 'repeats only of the same event');

    // 2. The CLI shows it, and sends a test event.
    const server = `--server=${cluster.url(leader, '')}`;
    const list = await cli('notify', 'list', '--job', 'fails', server);
    assert.equal(list.code, 0, list.stderr);
    assert.match(list.stdout, new RegExp(`${first}:failed:0\\s+failed\\s+fails\\s+delivered\\s+1`));
    const sent = await cli('notify', 'test', 'fails', server);
    assert.equal(sent.code, 0, sent.stderr);
    assert.ok(receiver.deliveries.some((d) => d.body['event'] === 'test' && d.signatureOk));

    // 3. Half the owed events are acknowledged and committed, half keep failing; then the leader dies.
    const ackBeforeKill = new Set<string>();
    receiver.answer = (eventId) => (ackBeforeKill.has(eventId) ? 200 : 503);
    const owed: string[] = [];
    for (let i = 0; i < 6; i++) owed.push(`${await failRun(cluster, leader, 'fails')}:failed:0`);
    for (const id of owed.filter((_, i) => i % 2 === 0)) ackBeforeKill.add(id);
    await waitFor('the first half delivered and recorded, the rest failing', async () => {
      const delivered = new Set((await notifications(cluster, leader, 'job=fails&status=delivered')).map((n) => n.eventId));
      const pending = await notifications(cluster, leader, 'job=fails&status=pending');
      return [...ackBeforeKill].every((id) => delivered.has(id)) && pending.length === 3 && pending.every((n) => n.attempts >= 1 && n.lastError === 'HTTP 503');
    }, 20_000);
    // Held back until the old leader is gone, so every later 2xx comes from the new leader.
    receiver.answer = () => 503;
    await cluster.signal(leader, 'SIGKILL');
    receiver.answer = () => 200;
    const next = await cluster.waitForLeader();
    assert.notEqual(next, leader);
    await waitFor('every owed event delivered by the new leader', async () => (await notifications(cluster, next, 'job=fails&status=pending')).length === 0, 30_000);
    const acked = receiver.acknowledged();
    for (const id of [`${first}:failed:0`, ...owed]) assert.equal(acked.get(id), 1, `${id} acknowledged exactly once`);
    assert.ok(receiver.deliveries.every((d) => d.signatureOk), 'every delivery verifies');
    assert.deepEqual([...acked.keys()].filter((id) => !id.startsWith('test:')).sort(), [`${first}:failed:0`, ...owed].sort(), 'nothing else was acknowledged');

    // 4. Run search across jobs: the failed runs, with duration and lateness, and the CLI's --status/--since.
    const search = await cluster.call(next, 'GET', '/v1/runs?status=failed&since=1h&limit=100');
    assert.equal(search.status, 200, JSON.stringify(search.body));
    const found: unknown = typeof search.body === 'object' && search.body !== null && 'items' in search.body ? search.body.items : null;
    assert.ok(Array.isArray(found));
    const failedIds = [first, ...owed.map((id) => id.split(':')[0])];
    assert.deepEqual(found.map((r: unknown) => (typeof r === 'object' && r !== null && 'runId' in r ? r.runId : null)).sort(), [...failedIds].sort());
    for (const r of found) {
      assert.ok(typeof r === 'object' && r !== null && 'durationMs' in r && 'lateMs' in r);
      assert.ok(typeof r.durationMs === 'number' && r.durationMs >= 0, 'a finished run has a duration');
      assert.ok(typeof r.lateMs === 'number', 'a started run has a lateness');
    }
    const listed = await cli('run', 'list', '--status', 'failed', '--since', '1h', `--server=${cluster.url(next, '')}`);
    assert.equal(listed.code, 0, listed.stderr);
    for (const id of failedIds) assert.match(listed.stdout, new RegExp(`fails\\s+${id}\\s`));

    // 5. Metrics: a strict parse of every live node's /metrics, each showing the same per-job figures.
    for (const node of cluster.live()) {
      await waitFor(`${node.id}'s metrics to show every outcome and delivery`, async () => {
        const families = parseExposition((await cluster.call(node.id, 'GET', '/metrics')).text);
        return sampleValue(families, 'chime_job_runs_total', { job: 'fails', status: 'failed' }) === 7
          && sampleValue(families, 'chime_notify_delivered_total', {}) === 7 && sampleValue(families, 'chime_notify_pending', {}) === 0
          && sampleValue(families, 'chime_job_run_duration_seconds_count', { job: 'fails' }) === 7
          && sampleValue(families, 'chime_fire_lateness_seconds_count', { job: 'fails' }) === 7;
      }, 10_000);
    }
    t.diagnostic(`deliveries ${receiver.deliveries.length} (${[...receiver.countsByEventId().values()].reduce((a, b) => a + b, 0)} requests), new leader ${next}`);
  } finally {
    await cluster.stopAll();
    await receiver.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
