// `npm run bench:api [-- --seconds 10] [-- --levels 1,16,64,256] [-- --target leader|all|follower]
//   [-- --only chime|etcd] [-- --profile DIR]`
// Job PUTs (~300-byte spec, distinct ids) against a 3-node local chime cluster, then the
// same load as `POST /v3/kv/put` (same value size) against a 3-member etcd on loopback.
// Closed loop: each of `concurrency` clients sends its next write when the last answered,
// over keep-alive connections. `--target leader` (default) sends every write to the leader,
// `all` spreads the clients over all three nodes (followers forward to the leader),
// `follower` sends every write to one follower (etcd: one non-leader member).
// `--ceiling` (default on; `--no-ceiling` skips) first measures a no-op HTTP server (one
// process: parse the body, answer 201) with the same load generator: no server that speaks
// HTTP/1.1 one request per round trip can beat it on this machine.
// `--workers N` (default 0) adds N non-voting worker members (`chime agent --role worker
// --join`) to chime's 3 voters before the load: they replicate the log but never vote, so
// the write path should barely notice them on machines of their own; on this one they do
// (docs/benchmarks.md, "Voters and workers").
// `--idle-agents N` (default 0) instead starts N more agents that are not members at all
// (each founds its own one-node cluster and takes no writes): the floor of what N more
// chime processes cost the voters on a shared machine before they replicate anything.
// `--timing etcd` (default) runs chime with etcd's default heartbeat (100 ms) and election
// timeout (1000 ms) so both tolerate the same scheduling delays; `--timing chime` keeps
// chime's own faster defaults (50/250 ms).
// `--tokens` founds chime with an admin token that every write carries; `--tls` serves the
// API over HTTPS (a CA and node certificates made with openssl at bench time, the load
// generator trusting that CA over keep-alive connections); `--peer-tls` puts peers on mutual
// TLS. `--ab tokens|tls|peer-tls [--rounds N]` measures what one of them costs: two chime
// clusters, without and with it (the other flags as given), loaded in turn N rounds at each
// level, printing each window and the median per-round ratio.
import { fork } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { cliArgs } from '../support/cli-args.js';
import { makeTestPki } from '../support/certs.js';
import { ProcessCluster, waitFor } from '../support/process-cluster.js';
import { EtcdCluster, etcdVersion } from './etcd-cluster.js';
import { cpuMs, runLoad, type LoadRequest, type LoadResult } from './http-load.js';

const { values } = cliArgs('npm run bench:api --', {
  options: {
    seconds: { type: 'string', default: '10' },
    levels: { type: 'string', default: '1,16,64,256' },
    target: { type: 'string', default: 'leader' },
    only: { type: 'string', default: '' },
    profile: { type: 'string', default: '' },
    timing: { type: 'string', default: 'etcd' },
    ceiling: { type: 'boolean', default: true },
    workers: { type: 'string', default: '0' },
    'idle-agents': { type: 'string', default: '0' },
    // The cluster founded with an admin token and every write carrying it (the access check's cost).
    tokens: { type: 'boolean', default: false },
    // The API over HTTPS (--tls-cert/--tls-key, a CA made with openssl at bench time) and the load generator trusting that CA.
    tls: { type: 'boolean', default: false },
    // Peers over mutual TLS (--peer-cert/--peer-key/--peer-ca).
    'peer-tls': { type: 'boolean', default: false },
    // Two clusters differing in one setting (tokens, tls or peer-tls), loaded in turn.
    ab: { type: 'string', default: '' },
    rounds: { type: 'string', default: '4' },
  },
  allowNegative: true,
});
const seconds = Number(values.seconds);
const levels = values.levels.split(',').map(Number);
const spreadOverAll = values.target === 'all';
const viaFollower = values.target === 'follower';
const targetName = spreadOverAll ? 'all nodes' : viaFollower ? 'one follower' : 'the leader';
const SPEC_BYTES = 300;

/** A job spec whose JSON is exactly SPEC_BYTES long. */
function specBody(n: number): Buffer {
  const base = { schedule: '@manual', executor: { type: 'shell', command: `echo bench ${n}` }, labels: { bench: 'api' }, description: '' };
  const pad = SPEC_BYTES - Buffer.byteLength(JSON.stringify(base));
  return Buffer.from(JSON.stringify({ ...base, description: 'x'.repeat(Math.max(0, pad)) }));
}

/** What a chime cluster of the bench is run with: API tokens on every write, HTTPS for the API, mutual TLS between peers. */
type Variant = { readonly tokens: boolean; readonly tls: boolean; readonly peerTls: boolean };

function variantName(v: Variant): string {
  return `${v.tls ? 'https' : 'http'}${v.peerTls ? '+peer-mtls' : ''}${v.tokens ? '+token' : ''}`;
}

/** One level's figures: the load's result and the CPU the servers (and the leader alone) used meanwhile. */
type Measured = {
  readonly r: LoadResult; readonly serverCpuMs: number; readonly leaderCpuMs: number; readonly termBefore: number; readonly termAfter: number;
  /** CPU of the worker members or idle agents (`extraName`), null without any. */
  readonly extraCpuMs: number | null; readonly extraName: string;
};

interface ChimeRig {
  readonly variant: Variant;
  readonly cluster: ProcessCluster;
  readonly leader: string;
  measure(concurrency: number, prefix: string): Promise<Measured>;
  stop(): Promise<void>;
}

/**
 * A 3-node cluster for the bench, warmed up. With `tls` the PKI is made with openssl now
 * (test/support/certs.ts: a CA and one certificate per node) and the load generator trusts
 * that CA; with `tokens` the cluster is founded with --admin-token-file and every write
 * carries the token.
 */
async function startChime(variant: Variant): Promise<ChimeRig> {
  const dir = mkdtempSync(join(tmpdir(), 'chime-apibench-'));
  const nodeArgs = values.profile === '' ? [] : ['--cpu-prof', `--cpu-prof-dir=${values.profile}`];
  const args = values.timing === 'etcd' ? ['--heartbeat-ms', '100', '--election-ms', '1000'] : [];
  const token = `bench-admin-${'t'.repeat(40)}`;
  const tokenFile = join(dir, 'admin.token');
  if (variant.tokens) {
    writeFileSync(tokenFile, `${token}\n`);
    args.push('--admin-token-file', tokenFile);
  }
  const pki = variant.tls || variant.peerTls ? makeTestPki(join(dir, 'pki'), ['n1', 'n2', 'n3', ...Array.from({ length: Number(values.workers) }, (_, i) => `w${i + 1}`)]) : null;
  if (pki !== null && variant.peerTls) args.push('--peer-ca', pki.ca.certPath);
  const tlsArgs = (id: string): string[] => {
    const pem = pki?.nodes[id];
    if (pem === undefined) return [];
    return [...(variant.tls ? ['--tls-cert', pem.certPath, '--tls-key', pem.keyPath] : []), ...(variant.peerTls ? ['--peer-cert', pem.certPath, '--peer-key', pem.keyPath] : [])];
  };
  const cluster = await ProcessCluster.found(3, {
    dir, nodeArgs, args, ...(variant.tokens ? { token } : {}), ...(pki !== null && variant.tls ? { httpsCa: pki.ca.cert } : {}),
  }, (id) => tlsArgs(id));
  const idle: ProcessCluster[] = [];
  const stop = async (): Promise<void> => {
    for (const c of idle) await c.stopAll('SIGKILL');
    await cluster.stopAll(values.profile === '' ? 'SIGKILL' : 'SIGTERM');
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    for (let i = 1; i <= Number(values['idle-agents']); i++) {
      const idleDir = join(dir, `idle${i}`);
      mkdirSync(idleDir);
      idle.push(await ProcessCluster.found(1, { dir: idleDir, nodeArgs, args }));
    }
    if (idle.length > 0) console.log(`chime: ${idle.length} idle agents that are not members (one-node clusters of their own)`);
    const workerCount = Number(values.workers);
    for (let i = 1; i <= workerCount; i++) {
      await cluster.launch(`w${i}`, '127.0.0.1:0', '127.0.0.1:0', ['--join', cluster.url('n1', ''), '--role', 'worker', ...tlsArgs(`w${i}`)]);
    }
    if (workerCount > 0) {
      await waitFor(`${workerCount} worker members`, async () => {
        const members = ((await cluster.call('n1', 'GET', '/v1/cluster')).body as { members: { role: string; voter: boolean }[] }).members;
        return members.filter((m) => m.role === 'worker' && !m.voter).length === workerCount;
      }, 60_000, 200);
      console.log(`chime: ${workerCount} non-voting worker members joined`);
    }
    const leader = await cluster.waitForLeader();
    const follower = ['n1', 'n2', 'n3'].find((id) => id !== leader) ?? leader;
    const bases = (spreadOverAll ? ['n1', 'n2', 'n3'] : viaFollower ? [follower] : [leader]).map((id) => cluster.url(id, ''));
    console.log(`chime (${variantName(variant)}): 3 nodes, leader ${leader}, writes to ${targetName}, ${values.timing} timing${variant.tokens ? ', every write with a bearer token' : ', no tokens'}${variant.tls ? ', HTTPS (keep-alive)' : ''}${variant.peerTls ? ', peers over mutual TLS' : ''}`);
    const auth = variant.tokens ? { authorization: `Bearer ${token}` } : undefined;
    const load = pki !== null && variant.tls ? { ca: pki.ca.cert } : {};
    const term = async () => ((await cluster.call(leader, 'GET', '/v1/cluster')).body as { term: number }).term;
    const request = (prefix: string) => (n: number): LoadRequest => ({ url: new URL(`${bases[n % bases.length]}/v1/jobs/${prefix}-${n}`), method: 'PUT', body: specBody(n), ...(auth === undefined ? {} : { headers: auth }) });
    await runLoad(16, 1, request('warm'), Number.POSITIVE_INFINITY, load);
    const pids = cluster.live().filter((n) => !n.id.startsWith('w')).map((n) => n.child?.pid ?? 0);
    const leaderPid = cluster.live().find((n) => n.id === leader)?.child?.pid ?? 0;
    // Workers share the machine with the voters here, so their CPU is part of the cost.
    const workerPids = [...cluster.live().filter((n) => n.id.startsWith('w')), ...idle.flatMap((c) => c.live())].map((n) => n.child?.pid ?? 0);
    const extraName = idle.length > 0 ? 'idle_agents' : 'workers';
    const measure = async (concurrency: number, prefix: string): Promise<Measured> => {
      const cpuBefore = cpuMs(pids);
      const leaderBefore = cpuMs([leaderPid]);
      const workersBefore = cpuMs(workerPids);
      const termBefore = await term();
      const r = await runLoad(concurrency, seconds, request(prefix), Number.POSITIVE_INFINITY, load);
      const serverCpuMs = cpuMs(pids) - cpuBefore;
      const leaderCpuMs = cpuMs([leaderPid]) - leaderBefore;
      const extraCpuMs = workerPids.length > 0 ? cpuMs(workerPids) - workersBefore : null;
      return { r, serverCpuMs, leaderCpuMs, termBefore, termAfter: await term(), extraCpuMs, extraName };
    };
    return { variant, cluster, leader, measure, stop };
  } catch (error) {
    await stop();
    throw error;
  }
}

function measuredLine(name: string, m: Measured): string {
  const changed = m.termAfter !== m.termBefore ? `\n  warning: the leader changed during this level (term ${m.termBefore} -> ${m.termAfter})` : '';
  const extra = m.extraCpuMs !== null && m.r.ok > 0 ? ` ${m.extraName}_cpu_ms_per_write=${(m.extraCpuMs / m.r.ok).toFixed(3)}` : '';
  return line(name, m.r, m.serverCpuMs) + ` leader_cpu_ms_per_write=${m.r.ok > 0 ? (m.leaderCpuMs / m.r.ok).toFixed(3) : '-'}${extra}${changed}`;
}

async function benchChime(): Promise<LoadResult[]> {
  const rig = await startChime({ tokens: values.tokens, tls: values.tls, peerTls: values['peer-tls'] });
  try {
    const results: LoadResult[] = [];
    for (const c of levels) {
      const m = await rig.measure(c, `c${c}`);
      console.log(measuredLine('chime', m));
      results.push(m.r);
    }
    for (const id of ['n1', 'n2', 'n3']) console.log(`${id}${id === rig.leader ? ' (leader)' : ''}: ${await meanTimes(rig.cluster, id)}`);
    return results;
  } finally {
    await rig.stop();
  }
}

function median(xs: readonly number[]): number {
  const sorted = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[mid] ?? 0 : ((sorted[mid - 1] ?? 0) + (sorted[mid] ?? 0)) / 2;
}

/**
 * `--ab tokens|tls`: two clusters side by side, identical but for that one setting, loaded in
 * turn (A B, then B A, …) for `--rounds` rounds at each level. A crowded machine drifts by
 * tens of percent within minutes; windows seconds apart see the same drift, so the per-round
 * ratio, and its median, says what the setting costs far better than two separate runs.
 */
async function benchAb(): Promise<void> {
  const base: Variant = { tokens: values.tokens, tls: values.tls, peerTls: values['peer-tls'] };
  const key = values.ab === 'tokens' ? 'tokens' : values.ab === 'tls' ? 'tls' : 'peerTls';
  // A is always without the setting, B with it (the other settings as the flags say).
  const a: Variant = { ...base, [key]: false };
  const b: Variant = { ...base, [key]: true };
  const rounds = Number(values.rounds);
  const rigA = await startChime(a);
  try {
    const rigB = await startChime(b);
    try {
      for (const c of levels) {
        // One uncounted window each first: a fresh cluster's first seconds at a new
        // concurrency (JIT, connection set-up, the other cluster's start-up) are not its pace.
        await rigA.measure(c, `w${c}`);
        await rigB.measure(c, `w${c}`);
        const ratios: number[] = [];
        const cpuRatios: number[] = [];
        const pooled = { a: { ok: 0, s: 0, cpu: 0, perSecond: [] as number[] }, b: { ok: 0, s: 0, cpu: 0, perSecond: [] as number[] } };
        for (let round = 1; round <= rounds; round++) {
          const order = round % 2 === 1 ? [['a', rigA], ['b', rigB]] as const : [['b', rigB], ['a', rigA]] as const;
          const got: Partial<Record<'a' | 'b', Measured>> = {};
          for (const [key, rig] of order) {
            const m = await rig.measure(c, `r${round}c${c}`);
            got[key] = m;
            const p = pooled[key];
            p.ok += m.r.ok;
            p.s += m.r.seconds;
            p.cpu += m.leaderCpuMs;
            p.perSecond.push(m.r.perSecond);
            console.log(`round ${round} ${measuredLine(variantName(rig.variant).padEnd(26), m)}`);
          }
          const [ma, mb] = [got.a, got.b];
          if (ma === undefined || mb === undefined || ma.r.ok === 0 || mb.r.ok === 0) continue;
          ratios.push(mb.r.perSecond / ma.r.perSecond);
          cpuRatios.push((mb.leaderCpuMs / mb.r.ok) / (ma.leaderCpuMs / ma.r.ok));
        }
        const pct = (x: number) => `${x >= 1 ? '+' : ''}${((x - 1) * 100).toFixed(1)} %`;
        const [na, nb] = [variantName(a), variantName(b)];
        const rate = (p: { ok: number; s: number }) => p.ok / p.s;
        const cpu = (p: { ok: number; cpu: number }) => p.cpu / p.ok;
        console.log(`c=${c}, ${rounds} rounds of ${seconds} s: ${na} ${rate(pooled.a).toFixed(0)} writes/s (median ${median(pooled.a.perSecond).toFixed(0)}), leader ${cpu(pooled.a).toFixed(3)} ms CPU/write; `
          + `${nb} ${rate(pooled.b).toFixed(0)} writes/s (median ${median(pooled.b.perSecond).toFixed(0)}), leader ${cpu(pooled.b).toFixed(3)} ms CPU/write`);
        console.log(`${nb} vs ${na}: writes/s pooled ${pct(rate(pooled.b) / rate(pooled.a))}, median of rounds ${pct(median(ratios))} (${ratios.map(pct).join(', ')}); `
          + `leader CPU/write pooled ${pct(cpu(pooled.b) / cpu(pooled.a))}, median of rounds ${pct(median(cpuRatios))}`);
      }
    } finally {
      await rigB.stop();
    }
  } finally {
    await rigA.stop();
  }
}

/** Mean fsync, commit and HTTP handling times over the whole run, from a node's /metrics. */
async function meanTimes(cluster: ProcessCluster, id: string): Promise<string> {
  const text = (await cluster.call(id, 'GET', '/metrics')).text;
  const value = (name: string) => Number(/^(\S+) (\S+)$/m.exec(text.split('\n').filter((l) => l.startsWith(name + ' ')).join('\n'))?.[2] ?? 'NaN');
  return ['chime_storage_fsync_seconds', 'chime_raft_commit_seconds', 'chime_http_request_seconds']
    .map((m) => {
      const count = value(`${m}_count`);
      return `${m.replace(/^chime_|_seconds$/g, '')} n=${count} mean_ms=${((value(`${m}_sum`) / count) * 1000).toFixed(2)}`;
    })
    .join(', ') + `, rpc frames_sent=${value('chime_rpc_frames_sent_total')} socket_writes=${value('chime_rpc_socket_writes_total')} frames_received=${value('chime_rpc_frames_received_total')}`;
}

async function benchEtcd(): Promise<LoadResult[] | null> {
  const version = etcdVersion();
  if (version === null) {
    console.log('etcd is not installed; measuring chime alone. Install it with: apt-get update && apt-get install -y etcd-server');
    return null;
  }
  const dir = mkdtempSync(join(tmpdir(), 'etcd-apibench-'));
  const cluster = await EtcdCluster.start(dir);
  try {
    const leader = await cluster.leader();
    if (leader === null) throw new Error('etcd has no leader');
    const follower = cluster.members.map((m) => m.clientUrl).find((url) => url !== leader) ?? leader;
    const bases = spreadOverAll ? cluster.members.map((m) => m.clientUrl) : viaFollower ? [follower] : [leader];
    console.log(`${version}: 3 members, writes to ${targetName} via the HTTP gateway`);
    const request = (prefix: string) => (n: number): LoadRequest => ({
      url: new URL(`${bases[n % bases.length]}/v3/kv/put`),
      method: 'POST',
      body: Buffer.from(JSON.stringify({ key: Buffer.from(`jobs/${prefix}-${n}`).toString('base64'), value: specBody(n).toString('base64') })),
    });
    await runLoad(16, 1, request('warm'));
    const pids = cluster.members.map((m) => m.child.pid ?? 0);
    const results: LoadResult[] = [];
    for (const c of levels) {
      const cpuBefore = cpuMs(pids);
      const r = await runLoad(c, seconds, request(`c${c}`));
      console.log(line('etcd', r, cpuMs(pids) - cpuBefore));
      results.push(r);
    }
    return results;
  } finally {
    cluster.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

/** One result line; `serverCpuMs` is the CPU all server processes used during the level. */
function line(name: string, r: LoadResult, serverCpuMs: number): string {
  const errors = r.failed === 0 ? '' : ` failed=${r.failed} (${r.firstError})`;
  const perWrite = r.ok > 0 ? (serverCpuMs / r.ok).toFixed(2) : '-';
  return `${name} c=${r.concurrency} writes/s=${r.perSecond.toFixed(0)} p50_ms=${r.p50Ms.toFixed(2)} p99_ms=${r.p99Ms.toFixed(2)} ok=${r.ok} server_cpu_ms_per_write=${perWrite}${errors}`;
}

async function benchCeiling(): Promise<void> {
  const child = fork(fileURLToPath(new URL('./noop-server.js', import.meta.url)));
  try {
    const port = await new Promise<number>((resolve, reject) => {
      child.once('message', (m) => resolve(Number(m)));
      child.once('error', reject);
    });
    console.log('no-op HTTP server (1 process, parse and answer, nothing else): the ceiling of this load generator on this machine');
    for (const c of levels) {
      const before = cpuMs([child.pid ?? 0]);
      const r = await runLoad(c, Math.min(seconds, 5), (n) => ({ url: new URL(`http://127.0.0.1:${port}/v1/jobs/noop-${n}`), method: 'PUT', body: specBody(n) }));
      console.log(line('noop', r, cpuMs([child.pid ?? 0]) - before));
    }
  } finally {
    child.kill('SIGKILL');
  }
}

const cpu = cpus()[0]?.model ?? 'unknown cpu';
console.log(`api bench: ${seconds} s per level, levels ${levels.join(',')}, ${cpus().length} cpus (${cpu}), node ${process.version}`);
if (values.ab !== '' && !['tokens', 'tls', 'peer-tls'].includes(values.ab)) throw new Error('--ab takes tokens, tls or peer-tls');
if (values.ab !== '') await benchAb();
else await benchSideBySide();

async function benchSideBySide(): Promise<void> {
  if (values.ceiling && values.only === '') await benchCeiling();
  const chime = values.only === 'etcd' ? null : await benchChime();
  const etcd = values.only === 'chime' ? null : await benchEtcd();
  console.log('\nconcurrency | chime writes/s  p50 ms  p99 ms | etcd writes/s  p50 ms  p99 ms | chime/etcd');
  levels.forEach((c, i) => {
    const a = chime?.[i];
    const b = etcd?.[i];
    const cell = (r: LoadResult | undefined) => (r === undefined ? '             -       -       -' : `${r.perSecond.toFixed(0).padStart(14)} ${r.p50Ms.toFixed(2).padStart(7)} ${r.p99Ms.toFixed(2).padStart(7)}`);
    const ratio = a !== undefined && b !== undefined && b.perSecond > 0 ? `${(a.perSecond / b.perSecond).toFixed(2)}x` : '-';
    console.log(`${String(c).padStart(11)} |${cell(a)} |${cell(b)} | ${ratio}`);
  });
}
