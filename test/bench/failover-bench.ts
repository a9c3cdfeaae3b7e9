// `npm run bench:failover [-- --rounds 20] [-- --idle-seconds 600]`
// Failover: kill -9 the leader of a 3-node cluster and time until a write is acknowledged
// by a new leader (which implies it committed an entry of its term). Idle: run the
// cluster untouched and count leader changes (terms) — pre-vote and check-quorum should
// keep it at zero.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cliArgs } from '../support/cli-args.js';
import { ProcessCluster, waitFor } from '../support/process-cluster.js';

const { values } = cliArgs('npm run bench:failover --', { options: { rounds: { type: 'string', default: '20' }, 'idle-seconds': { type: 'string', default: '0' }, keep: { type: 'boolean', default: false } } });
const rounds = Number(values.rounds);
const idleSeconds = Number(values['idle-seconds']);

function percentile(sorted: readonly number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((sorted.length - 1) * p))] ?? 0;
}

async function failover(c: ProcessCluster): Promise<number[]> {
  const samples: number[] = [];
  for (let round = 0; round < rounds; round++) {
    const leader = await c.waitForLeader();
    const survivors = ['n1', 'n2', 'n3'].filter((id) => id !== leader);
    await c.signal(leader, 'SIGKILL');
    const killedAt = performance.now();
    let attempt = 0;
    await waitFor('a write acknowledged by a new leader', async () => {
      const via = survivors[attempt++ % survivors.length] as string;
      const answer = await c.call(via, 'PUT', `/v1/jobs/failover-${round}`, { schedule: '@manual', executor: { type: 'shell', command: 'true' } }, 1000);
      return answer.status === 201 || answer.status === 200;
    }, 20_000, 2);
    const ms = performance.now() - killedAt;
    samples.push(ms);
    console.log(`round ${round + 1}: killed ${leader}, write acknowledged after ${ms.toFixed(0)} ms`);
    await c.restart(leader);
    await waitFor(`${leader} to rejoin`, async () => ((await c.call(leader, 'GET', '/v1/ready')).status === 200));
  }
  return samples;
}

async function idle(c: ProcessCluster): Promise<void> {
  const termOf = async (id: string) => ((await c.call(id, 'GET', '/v1/cluster')).body as { term: number }).term;
  const before = await Promise.all(['n1', 'n2', 'n3'].map(termOf));
  const leader = await c.waitForLeader();
  console.log(`idle run: ${idleSeconds} s, leader ${leader}, terms ${before.join(',')}`);
  await new Promise((r) => setTimeout(r, idleSeconds * 1000));
  const after = await Promise.all(['n1', 'n2', 'n3'].map(termOf));
  const leaderAfter = await c.waitForLeader();
  console.log(`idle_seconds=${idleSeconds} terms_before=${before.join(',')} terms_after=${after.join(',')} leader_before=${leader} leader_after=${leaderAfter} leader_changes=${Math.max(...after) - Math.max(...before)}`);
}

const dir = mkdtempSync(join(tmpdir(), 'chime-failover-'));
const cluster = await ProcessCluster.found(3, { dir });
try {
  if (rounds > 0) {
    const samples = (await failover(cluster)).sort((a, b) => a - b);
    console.log(`failover rounds=${samples.length} median_ms=${percentile(samples, 0.5).toFixed(0)} p90_ms=${percentile(samples, 0.9).toFixed(0)} max_ms=${(samples.at(-1) ?? 0).toFixed(0)} min_ms=${(samples[0] ?? 0).toFixed(0)}`);
  }
  if (idleSeconds > 0) await idle(cluster);
} finally {
  await cluster.stopAll();
  if (values.keep !== true) rmSync(dir, { recursive: true, force: true });
}
