// `npm run bench:idle [-- --workers 1 --seconds 10 --timing etcd|chime]`
// What an idle cluster costs the machine: 3 voters (+ worker members) that hold a few jobs and
// take no writes. Per process, over the window: CPU (user + system, ms per second, from
// /proc/PID/stat) and how often its main thread woke (voluntary context switches per second,
// /proc/PID/task/PID/status). With `etcd` on the PATH, a 3-member etcd cluster is measured the
// same way for comparison (its heartbeat 100 ms, election 1000 ms: `--timing etcd` gives
// chime the same).
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cliArgs } from '../support/cli-args.js';
import { ProcessCluster, freePorts, waitFor } from '../support/process-cluster.js';
import { cpuMs } from './http-load.js';

const { values } = cliArgs('npm run bench:idle --', {
  options: {
    workers: { type: 'string', default: '1' },
    seconds: { type: 'string', default: '10' },
    timing: { type: 'string', default: 'etcd' },
  },
});
const workers = Number(values.workers);
const seconds = Number(values.seconds);
const timingArgs = values.timing === 'etcd' ? ['--heartbeat-ms', '100', '--election-ms', '1000'] : [];

/** Voluntary context switches of a process's main thread: how often it went to sleep and woke. */
function wakeups(pid: number): number {
  const status = readFileSync(`/proc/${pid}/task/${pid}/status`, 'utf8');
  return Number(/voluntary_ctxt_switches:\s+(\d+)/.exec(status)?.[1] ?? 0);
}

interface Sample {
  readonly label: string;
  readonly cpuMsPerSecond: number;
  readonly wakeupsPerSecond: number;
}

async function measure(processes: readonly { label: string; pid: number }[]): Promise<Sample[]> {
  const before = processes.map((p) => ({ cpu: cpuMs([p.pid]), wake: wakeups(p.pid) }));
  const startedMs = performance.now();
  await new Promise((resolve) => setTimeout(resolve, seconds * 1000));
  const elapsedS = (performance.now() - startedMs) / 1000;
  return processes.map((p, i) => ({
    label: p.label,
    cpuMsPerSecond: (cpuMs([p.pid]) - (before[i]?.cpu ?? 0)) / elapsedS,
    wakeupsPerSecond: (wakeups(p.pid) - (before[i]?.wake ?? 0)) / elapsedS,
  }));
}

function print(system: string, samples: readonly Sample[]): void {
  for (const s of samples) console.log(`${system} ${s.label.padEnd(12)} cpu_ms_per_s=${s.cpuMsPerSecond.toFixed(1).padStart(6)} main_thread_wakeups_per_s=${s.wakeupsPerSecond.toFixed(0).padStart(5)}`);
}

async function chime(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'chime-idlebench-'));
  const cluster = await ProcessCluster.found(3, { dir, args: timingArgs });
  try {
    for (let i = 1; i <= workers; i++) await cluster.launch(`w${i}`, '127.0.0.1:0', '127.0.0.1:0', ['--join', cluster.url('n1', ''), '--role', 'worker', ...timingArgs]);
    await waitFor(`${workers} worker members`, async () => {
      const members = ((await cluster.call('n1', 'GET', '/v1/cluster')).body as { members: { role: string }[] }).members;
      return members.filter((m) => m.role === 'worker').length === workers;
    }, 60_000, 200);
    const leader = await cluster.waitForLeader();
    for (let i = 0; i < 3; i++) await cluster.call(leader, 'PUT', `/v1/jobs/idle-${i}`, { schedule: '0 0 3 * * *', executor: { type: 'shell', command: 'true' } });
    // Past the start-up: compiling, the first snapshots of the membership, hellos.
    await new Promise((resolve) => setTimeout(resolve, 3000));
    const processes = cluster.live().map((n) => ({ label: n.id === leader ? `${n.id} leader` : n.id.startsWith('w') ? `${n.id} worker` : `${n.id} follower`, pid: n.child?.pid ?? 0 }));
    print('chime', await measure(processes));
    if (cluster.live().length !== 3 + workers) throw new Error('a node exited during the window');
  } finally {
    await cluster.stopAll('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  }
}

async function etcd(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'chime-idlebench-etcd-'));
  const ports = await freePorts(6);
  const names = ['e1', 'e2', 'e3'];
  const peerUrl = (i: number) => `http://127.0.0.1:${ports[2 * i]}`;
  const clientUrl = (i: number) => `http://127.0.0.1:${ports[2 * i + 1]}`;
  const initial = names.map((n, i) => `${n}=${peerUrl(i)}`).join(',');
  const children: ChildProcess[] = names.map((name, i) => spawn('etcd', ['--name', name, '--data-dir', join(dir, name), '--listen-peer-urls', peerUrl(i), '--initial-advertise-peer-urls', peerUrl(i), '--listen-client-urls', clientUrl(i), '--advertise-client-urls', clientUrl(i), '--initial-cluster', initial, '--initial-cluster-state', 'new'], { stdio: 'ignore' }));
  try {
    await waitFor('an etcd leader', async () => {
      const answer = await fetch(`${clientUrl(0)}/health`).catch(() => null);
      return answer !== null && answer.ok;
    }, 30_000, 200);
    await new Promise((resolve) => setTimeout(resolve, 3000));
    print('etcd ', await measure(children.map((c, i) => ({ label: names[i] ?? '', pid: c.pid ?? 0 }))));
  } finally {
    for (const c of children) c.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  }
}

console.log(`bench:idle: 3 voters + ${workers} worker(s), ${values.timing} timing, ${seconds} s window; node ${process.version}`);
await chime();
const hasEtcd = await new Promise<boolean>((resolve) => {
  const probe = spawn('etcd', ['--version'], { stdio: 'ignore' });
  probe.on('error', () => resolve(false));
  probe.on('exit', (code) => resolve(code === 0));
});
if (hasEtcd) await etcd();
else console.log('etcd is not on the PATH (apt-get install etcd-server): chime alone');
