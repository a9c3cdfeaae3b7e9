// chime backup FILE, then a new cluster founded with chime agent --restore FILE: every job and
// run record comes back as it was. 10,000 jobs, timed.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ProcessCluster } from '../support/process-cluster.js';
import { waitFor } from '../support/wait-for.js';
import { cli } from '../api/support.js';

const JOBS = 10_000;
const PER_APPLY = 1000;

interface Page {
  items: { id: string }[];
  nextCursor: string | null;
}

/** Every job as the API shows it, in id order. */
async function allJobs(cluster: ProcessCluster, via: string): Promise<unknown[]> {
  const jobs: unknown[] = [];
  let cursor: string | null = null;
  do {
    const answer = await cluster.call(via, 'GET', `/v1/jobs?limit=1000${cursor === null ? '' : `&cursor=${encodeURIComponent(cursor)}`}`);
    assert.equal(answer.status, 200, answer.text);
    const page = answer.body as Page;
    jobs.push(...page.items);
    cursor = page.nextCursor;
  } while (cursor !== null);
  return jobs;
}

test(`backup and restore round-trip a cluster with ${JOBS} jobs and their runs`, { timeout: 300_000 }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'chime-backup-'));
  const source = await ProcessCluster.found(3, { dir: join(dir, 'source') });
  let restored: ProcessCluster | null = null;
  try {
    const leader = await source.waitForLeader();
    for (let first = 0; first < JOBS; first += PER_APPLY) {
      const jobs = Array.from({ length: PER_APPLY }, (_, k) => ({ id: `job-${String(first + k).padStart(5, '0')}`, schedule: '0 0 3 * * *', timezone: 'Europe/Berlin', executor: { type: 'shell', command: `echo ${first + k}` }, labels: { team: `t${k % 7}` } }));
      const applied = await source.call(leader, 'POST', '/v1/apply', { jobs }, 60_000);
      assert.equal(applied.status, 200, applied.text);
    }
    const withRuns = ['job-00000', 'job-04242', 'job-09999'];
    for (const id of withRuns) assert.equal((await source.call(leader, 'POST', `/v1/jobs/${id}/run?wait=30s`, { payload: `p-${id}` }, 40_000)).status, 200);
    const file = join(dir, 'cluster.backup');
    const backupStarted = performance.now();
    const backup = await cli('backup', file, '--server', `http://${source.nodes.get(leader)?.http}`);
    const backupMs = performance.now() - backupStarted;
    assert.equal(backup.code, 0, backup.stderr);
    assert.match(backup.stdout, new RegExp(`^backup of ${JOBS} jobs at log index \\d+ from n\\d written to `));
    const expectedJobs = await allJobs(source, leader);
    const expectedRuns = await Promise.all(withRuns.map(async (id) => (await source.call(leader, 'GET', `/v1/jobs/${id}/runs`)).body));
    await source.stopAll();

    const restoreStarted = performance.now();
    restored = await ProcessCluster.found(3, { dir: join(dir, 'restored') }, () => ['--restore', file]);
    const newLeader = await restored.waitForLeader(60_000);
    await waitFor('every restored node ready', async () => {
      for (const id of ['n1', 'n2', 'n3']) if ((await restored?.call(id, 'GET', '/v1/ready'))?.status !== 200) return false;
      return true;
    }, 60_000);
    const restoreMs = performance.now() - restoreStarted;
    for (const via of ['n1', 'n2', 'n3']) assert.deepEqual(await allJobs(restored, via), expectedJobs, `every job on ${via}`);
    const runs = await Promise.all(withRuns.map(async (id) => (await restored?.call(newLeader, 'GET', `/v1/jobs/${id}/runs`))?.body));
    assert.deepEqual(runs, expectedRuns, 'every run record');
    // The restored cluster works on: a write lands after the restored entries.
    assert.equal((await restored.call(newLeader, 'PUT', '/v1/jobs/after-restore', { schedule: '@manual', executor: { type: 'shell', command: 'true' } })).status, 201);
    console.log(`backup_restore jobs=${JOBS} backup_bytes=${statSync(file).size} backup_ms=${Math.round(backupMs)} restore_to_ready_ms=${Math.round(restoreMs)}`);
    // A damaged file is refused before anything opens.
    writeFileSync(join(dir, 'damaged.backup'), Buffer.concat([Buffer.from('{"format":"chime-backup","version":1,"index":3,"createdAt":"2026-01-01T00:00:00Z","node":"n1","imageBytes":4,"sha256":"00"}\n'), Buffer.from('abcd')]));
    const refused = await cli('agent', '--id', 'n9', '--data', join(dir, 'n9'), '--rpc', '127.0.0.1:0', '--http', '127.0.0.1:0', '--peers', 'n9=127.0.0.1:0', '--restore', join(dir, 'damaged.backup'));
    assert.equal(refused.code, 1);
    assert.match(refused.stderr.trim(), /^chime: not a usable chime backup: the image does not match its checksum$/);
  } finally {
    await source.stopAll();
    await restored?.stopAll();
    rmSync(dir, { recursive: true, force: true });
  }
});
