// In-process throughput of the Raft core: three nodes, in-memory storage, a network with no
// delay, proposals batched. Measures committed entries per second and the time from
// propose() to the leader applying the batch (p50/p99). Run: npm run bench:raft
import assert from 'node:assert/strict';
import { cliArgs } from '../support/cli-args.js';
import { MemoryStorage, RawNode, bootstrapStorage } from '../../src/raft/index.js';
import type { Message, NodeId } from '../../src/raft/types.js';
import { Prng } from '../support/prng.js';

interface BenchNode {
  readonly id: NodeId;
  readonly raw: RawNode;
  readonly storage: MemoryStorage;
  applied: number;
}

function makeCluster(ids: readonly NodeId[], rng: Prng): BenchNode[] {
  return ids.map((id) => {
    const storage = new MemoryStorage();
    bootstrapStorage(storage, ids.map((v) => ({ id: v, context: '' })));
    const r = rng.fork();
    const raw = new RawNode({
      id, storage, heartbeatTicks: 1, electionTicks: 10, randomInt: (m) => r.int(m),
      maxMsgBytes: 1 << 20, maxInflightMsgs: 256, maxUncommittedEntries: 1 << 20, maxUncommittedBytes: 1 << 30,
    });
    return { id, raw, storage, applied: 0 };
  });
}

/** One round of every node's Ready loop; messages go into `outbox` for the next round. */
function drive(nodes: readonly BenchNode[], byId: Map<NodeId, BenchNode>, inbox: Message[], onApply: (n: BenchNode, index: number) => void): Message[] {
  for (const m of inbox) byId.get(m.to)?.raw.step(m);
  const outbox: Message[] = [];
  for (const n of nodes) {
    if (!n.raw.hasReady()) continue;
    const rd = n.raw.ready();
    if (rd.snapshot !== null) n.storage.applySnapshot(rd.snapshot);
    if (rd.entries.length > 0) n.storage.append(rd.entries);
    if (rd.hardState !== null) n.storage.setHardState(rd.hardState);
    for (const m of rd.messages) outbox.push(m);
    const last = rd.committedEntries.at(-1);
    if (last !== undefined) {
      n.applied = last.index;
      onApply(n, last.index);
    }
    n.raw.advance();
    // Keep memory flat over a long run: compact applied entries now and then.
    if (n.applied - n.storage.firstIndex() > 200_000) {
      n.storage.createSnapshot(n.applied, n.raw.status().conf, new Uint8Array(0));
      n.storage.compact(n.applied - 1000);
    }
  }
  return outbox;
}

function main(): void {
  const { values } = cliArgs('npm run bench:raft --', { options: { 'duration-ms': { type: 'string', default: '5000' }, batch: { type: 'string', default: '128' }, 'entry-bytes': { type: 'string', default: '100' }, pipeline: { type: 'string', default: '8' } } });
  const durationMs = Number(values['duration-ms']);
  const batch = Number(values.batch);
  const entryBytes = Number(values['entry-bytes']);
  const pipeline = Number(values.pipeline);
  const ids = ['n1', 'n2', 'n3'];
  const nodes = makeCluster(ids, new Prng(1));
  const byId = new Map(nodes.map((n) => [n.id, n] as const));
  let inbox: Message[] = [];
  const isLeader = (n: BenchNode): boolean => n.raw.status().softState.role === 'leader';
  for (let i = 0; i < 1000 && !nodes.some(isLeader); i++) {
    for (const n of nodes) n.raw.tick();
    inbox = drive(nodes, byId, inbox, () => {});
  }
  const leader = nodes.find(isLeader);
  assert.ok(leader !== undefined, 'no leader elected');
  for (let i = 0; i < 20; i++) inbox = drive(nodes, byId, inbox, () => {});

  const payload = Array.from({ length: batch }, (_, i) => new Uint8Array(entryBytes).fill(i & 0xff));
  const pending: { lastIndex: number; startNs: bigint }[] = [];
  const latenciesUs: number[] = [];
  let committedEntries = 0;
  let proposals = 0;
  let refused = 0;
  const onApply = (n: BenchNode, index: number): void => {
    if (n !== leader) return;
    const now = process.hrtime.bigint();
    while (pending.length > 0 && (pending[0] as { lastIndex: number }).lastIndex <= index) {
      const p = pending.shift() as { lastIndex: number; startNs: bigint };
      latenciesUs.push(Number(now - p.startNs) / 1000);
      committedEntries += batch;
    }
  };
  const started = process.hrtime.bigint();
  const deadline = started + BigInt(durationMs) * 1_000_000n;
  let rounds = 0;
  while (process.hrtime.bigint() < deadline) {
    while (pending.length < pipeline) {
      const r = leader.raw.propose(payload);
      if (!r.ok) {
        refused++;
        break;
      }
      proposals++;
      pending.push({ lastIndex: r.lastIndex, startNs: process.hrtime.bigint() });
    }
    inbox = drive(nodes, byId, inbox, onApply);
    if (++rounds % 50 === 0) for (const n of nodes) n.raw.tick();
  }
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  latenciesUs.sort((a, b) => a - b);
  const pct = (p: number): string => ((latenciesUs[Math.min(latenciesUs.length - 1, Math.floor(p * (latenciesUs.length - 1)))] ?? 0) / 1000).toFixed(2);
  console.log(`raft-bench: 3 nodes, in-memory, zero-delay network, batch=${batch} x ${entryBytes}B, pipeline=${pipeline}, ${seconds.toFixed(1)}s`);
  console.log(`committed_entries_per_s=${Math.round(committedEntries / seconds)} proposals=${proposals} refused=${refused} commit_latency_p50_ms=${pct(0.5)} commit_latency_p99_ms=${pct(0.99)}`);
}

main();
