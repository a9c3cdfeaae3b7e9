// `npm run bench:trace [-- --writes 300] [-- --via leader|follower] [-- --timing etcd|chime]`
//
// Where the time of one write goes: a 3-node cluster with CHIME_TRACE=1 takes `writes` PUTs
// from one client, one at a time; every node logs when each stage of each write happened
// (src/process/trace.ts), and this lines the stages up across the nodes by log index (all
// processes share this machine's clock) and prints the median of each step:
//
//   client → received      client send, kernel, HTTP parse (node:http) up to the route
//   received → proposing   body read, JSON parse, validation, the command
//   proposing → proposed   encoding, the wait for the Ready loop's turn (setImmediate)
//   proposed → appendSent  the core's Ready: appends out before the leader's own write
//   appendSent → leader persisted                  the leader's WAL append + fsync
//   appendSent → follower appendReceived           network + the follower's turn
//   follower appendReceived → persisted → ackSent  the follower's WAL append + fsync
//   ackSent → ackReceived  network back
//   → committed            the later of the leader's fsync and the first ack, to the Ready
//   committed → applied → resolved → answered → client
//
// "overlap" is how much of the leader's fsync ran while the followers were already
// appending (Raft thesis §10.2.1): near the leader's fsync time when it is parallel.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { Agent, request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cliArgs } from '../support/cli-args.js';
import { ProcessCluster, waitFor } from '../support/process-cluster.js';
import { percentile } from './http-load.js';

const { values } = cliArgs('npm run bench:trace --', {
  options: {
    writes: { type: 'string', default: '300' },
    via: { type: 'string', default: 'leader' },
    timing: { type: 'string', default: 'etcd' },
  },
});
const writes = Number(values.writes);
const WARMUP_WRITES = 30;
const LATE_MARK_MS = 100;

interface TraceEvent {
  readonly trace: string;
  readonly index: number;
  readonly atMs: number;
}

function isTraceEvent(value: unknown): value is TraceEvent {
  if (typeof value !== 'object' || value === null || !('trace' in value) || !('index' in value) || !('atMs' in value)) return false;
  return typeof value.trace === 'string' && typeof value.index === 'number' && typeof value.atMs === 'number';
}

function readTrace(path: string): TraceEvent[] {
  const out: TraceEvent[] = [];
  for (const line of readFileSync(path, 'utf8').split('\n')) {
    if (!line.startsWith('{"trace"')) continue;
    const value: unknown = JSON.parse(line);
    if (isTraceEvent(value)) out.push(value);
  }
  return out;
}

/** The first event of `stage` covering `index` (index -1: the first in the window), in [fromMs, toMs]. */
function at(events: readonly TraceEvent[], stage: string, index: number, fromMs: number, toMs: number): number | null {
  for (const e of events) {
    if (e.trace !== stage || e.atMs < fromMs || e.atMs > toMs) continue;
    if (index < 0 || e.index >= index) return e.atMs;
  }
  return null;
}

const agent = new Agent({ keepAlive: true, maxSockets: 1 });

/** One PUT over a kept-alive connection, as the load generator sends them. */
function httpPut(base: string, path: string, body: string): Promise<number> {
  const url = new URL(base + path);
  return new Promise((resolve, reject) => {
    const req = request({ agent, host: url.hostname, port: url.port, method: 'PUT', path: url.pathname, headers: { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(body)) } }, (res) => {
      res.on('data', () => undefined);
      res.on('end', () => resolve(res.statusCode ?? 0));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(body);
  });
}

const dir = mkdtempSync(join(tmpdir(), 'chime-trace-'));
const args = values.timing === 'etcd' ? ['--heartbeat-ms', '100', '--election-ms', '1000'] : [];
const cluster = await ProcessCluster.found(3, { dir, args, env: { CHIME_TRACE: '1' } });
try {
  const leader = await cluster.waitForLeader();
  const followers = ['n1', 'n2', 'n3'].filter((id) => id !== leader);
  const via = values.via === 'follower' ? (followers[0] ?? leader) : leader;
  const base = cluster.url(via, '');
  const spec = (n: number) => JSON.stringify({ schedule: '@manual', executor: { type: 'shell', command: `echo trace ${n}` } });
  for (let n = 0; n < WARMUP_WRITES; n++) await httpPut(base, `/v1/jobs/warm-${n}`, spec(n));
  const windows: { fromMs: number; toMs: number }[] = [];
  for (let n = 0; n < writes; n++) {
    const fromMs = performance.timeOrigin + performance.now();
    const status = await httpPut(base, `/v1/jobs/trace-${n}`, spec(n));
    const toMs = performance.timeOrigin + performance.now();
    if (status !== 201) throw new Error(`write ${n} answered ${status}`);
    windows.push({ fromMs, toMs });
  }
  // Each node writes its trace a few times a second.
  await waitFor('the traces of every write', () => readTrace(join(dir, `${via}.log`)).filter((e) => e.trace === 'answered').length >= WARMUP_WRITES + writes + 1, 10_000, 50);
  const events = new Map(['n1', 'n2', 'n3'].map((id) => [id, readTrace(join(dir, `${id}.log`))]));
  const ev = (id: string) => events.get(id) ?? [];
  const steps = new Map<string, number[]>();
  const add = (name: string, ms: number | null) => {
    if (ms === null || !Number.isFinite(ms)) return;
    const list = steps.get(name) ?? [];
    list.push(ms);
    steps.set(name, list);
  };
  let traced = 0;
  for (const { fromMs, toMs } of windows) {
    // A node may mark the end of a request a little after its client saw the answer.
    const on = (id: string, stage: string, index: number, afterMs = fromMs) => at(ev(id), stage, index, afterMs, toMs + LATE_MARK_MS);
    const received = on(via, 'received', -1);
    const proposedAt = ev(leader).find((e) => e.trace === 'proposed' && e.atMs >= fromMs && e.atMs <= toMs);
    if (received === null || proposedAt === undefined) continue;
    const index = proposedAt.index;
    const leaderReceived = on(leader, 'received', -1);
    const proposing = on(leader, 'proposing', -1);
    const appendSent = on(leader, 'appendSent', index);
    const leaderPersisted = on(leader, 'persisted', index);
    const acks = followers.map((f) => ({ f, received: on(f, 'appendReceived', index), persisted: on(f, 'persisted', index), sent: on(f, 'ackSent', index) }));
    const ackReceived = on(leader, 'ackReceived', index);
    const committed = on(leader, 'committed', index);
    const applied = on(leader, 'applied', index);
    const resolved = on(leader, 'resolved', -1);
    const answeredLeader = resolved === null ? null : on(leader, 'answered', -1, resolved);
    const answered = via === leader ? answeredLeader : answeredLeader === null ? null : on(via, 'answered', -1, answeredLeader);
    if ([leaderReceived, proposing, appendSent, leaderPersisted, ackReceived, committed, applied, resolved, answered].some((t) => t === null)) continue;
    traced++;
    const d = (a: number | null, b: number | null) => (a === null || b === null ? null : b - a);
    add('client → received (send, HTTP parse)', d(fromMs, received));
    if (via !== leader) add('received → leader received (forward channel)', d(received, leaderReceived));
    add('received → proposing (body, JSON, validate)', d(leaderReceived, proposing));
    add('proposing → proposed (encode, Ready turn)', d(proposing, proposedAt.atMs));
    add('proposed → appendSent', d(proposedAt.atMs, appendSent));
    add('appendSent → leader persisted (leader WAL + fsync)', d(appendSent, leaderPersisted));
    const first = acks.filter((a) => a.sent !== null).sort((a, b) => (a.sent ?? 0) - (b.sent ?? 0))[0];
    if (first !== undefined) {
      add('appendSent → follower appendReceived (network)', d(appendSent, first.received));
      add('follower appendReceived → persisted (follower WAL + fsync)', d(first.received, first.persisted));
      add('follower persisted → ackSent', d(first.persisted, first.sent));
      add('follower ackSent → leader ackReceived (network)', d(first.sent, ackReceived));
    }
    const quorum = Math.max(leaderPersisted ?? 0, ackReceived ?? 0);
    add('max(leader persisted, first ack) → committed', d(quorum, committed));
    add('committed → applied', d(committed, applied));
    add('applied → resolved (promise chain)', d(applied, resolved));
    add('resolved → answered (view, JSON, write)', d(resolved, answeredLeader));
    if (via !== leader) add('leader answered → answered here (forward channel)', d(answeredLeader, answered));
    add('answered → client (kernel, client parse)', d(answered, toMs));
    // How much of the leader's fsync overlapped the followers' work on the same entries.
    add('overlap: leader fsync ∩ (appendSent → first ack)', leaderPersisted === null || appendSent === null || ackReceived === null ? null : Math.max(0, Math.min(leaderPersisted, ackReceived) - appendSent));
    add('total (client)', toMs - fromMs);
    add('total (server: received → answered)', d(received, answered));
  }
  console.log(`trace of ${traced} of ${writes} sequential writes to ${via === leader ? 'the leader' : 'a follower'} (${leader} leads), ${values.timing} timing; p50, p90 and p99 in ms:`);
  const width = Math.max(...[...steps.keys()].map((k) => k.length));
  for (const [name, list] of steps) {
    list.sort((a, b) => a - b);
    console.log(`  ${name.padEnd(width)}  ${percentile(list, 0.5).toFixed(3).padStart(8)}  ${percentile(list, 0.9).toFixed(3).padStart(8)}  ${percentile(list, 0.99).toFixed(3).padStart(8)}`);
  }
} finally {
  agent.destroy();
  await cluster.stopAll();
  rmSync(dir, { recursive: true, force: true });
}
