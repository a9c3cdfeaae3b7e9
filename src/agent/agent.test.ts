import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Agent, type Envelope, type PeerTransport } from './agent.js';
import { MemoryLogStore } from './memory-log-store.js';
import { silentLogger, type Logger } from './logger.js';
import type { StateMachine } from './raft-host.js';
import type { NodeId } from '../raft/index.js';

/** A replicated list of strings: apply appends, and answers with the new length. */
class ListMachine implements StateMachine {
  items: string[] = [];
  apply(data: Uint8Array): unknown {
    this.items.push(new TextDecoder().decode(data));
    return this.items.length;
  }
  snapshot(): Uint8Array {
    return new TextEncoder().encode(JSON.stringify(this.items));
  }
  restore(data: Uint8Array): void {
    this.items = JSON.parse(new TextDecoder().decode(data)) as string[];
  }
}

/** Delivers envelopes between agents in one process on the next turn of the event loop. */
class LoopbackHub {
  readonly agents = new Map<NodeId, Agent>();
  readonly down = new Set<NodeId>();
  transport(self: NodeId): PeerTransport {
    return {
      send: (to, envelope: Envelope) => {
        if (this.down.has(self) || this.down.has(to)) return;
        setImmediate(() => this.agents.get(to)?.receive(self, envelope));
      },
      setPeers: () => {},
      close: async () => {},
    };
  }
}

async function until(what: string, check: () => boolean, timeoutMs = 5000): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (!check()) {
    if (performance.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

async function cluster(ids: NodeId[], extra: { machine?: () => ListMachine; snapshotEntries?: number; logger?: (id: NodeId) => Logger } = {}) {
  const hub = new LoopbackHub();
  const machines = new Map<NodeId, ListMachine>();
  const peers = new Map(ids.map((id) => [id, `127.0.0.1:${7000 + ids.indexOf(id)}`]));
  for (const id of ids) {
    const machine = extra.machine?.() ?? new ListMachine();
    machines.set(id, machine);
    const agent = await Agent.start({
      id,
      store: new MemoryLogStore(),
      stateMachine: machine,
      transport: hub.transport(id),
      address: { rpc: peers.get(id) ?? '', http: `127.0.0.1:${8000 + ids.indexOf(id)}` },
      peers,
      timing: { tickMs: 5, heartbeatMs: 10, electionMs: 50 },
      logger: extra.logger?.(id) ?? silentLogger,
      ...(extra.snapshotEntries === undefined ? {} : { snapshotEntries: extra.snapshotEntries }),
    });
    hub.agents.set(id, agent);
  }
  const leader = () => [...hub.agents.values()].find((a) => a.isLeader()) ?? null;
  await until('a leader', () => leader() !== null);
  return { hub, machines, leader: () => leader() as Agent, stop: async () => Promise.all([...hub.agents.values()].map((a) => a.stop(100))) };
}

test('three agents elect one leader that every member agrees on', async () => {
  const c = await cluster(['a', 'b', 'c']);
  try {
    const leader = c.leader();
    await until('everyone knows the leader', () => [...c.hub.agents.values()].every((a) => a.leaderId() === leader.id));
    assert.equal(leader.cluster().members.length, 3);
  } finally {
    await c.stop();
  }
});

test('a proposal resolves with the state machine result once applied, and followers apply it too', async () => {
  const c = await cluster(['a', 'b', 'c']);
  try {
    const results = await Promise.all(['x', 'y', 'z'].map((v) => c.leader().propose(new TextEncoder().encode(v))));
    assert.deepEqual(results, [1, 2, 3]);
    await until('followers apply', () => [...c.machines.values()].every((m) => m.items.length === 3));
    const follower = [...c.hub.agents.values()].find((a) => !a.isLeader()) as Agent;
    await assert.rejects(follower.propose(new TextEncoder().encode('no')), /leader is/);
  } finally {
    await c.stop();
  }
});

test('a linearizable read on a follower sees a write acknowledged before it began', async () => {
  const c = await cluster(['a', 'b', 'c']);
  try {
    const follower = [...c.hub.agents.values()].find((a) => !a.isLeader()) as Agent;
    const machine = c.machines.get(follower.id) as ListMachine;
    for (let i = 0; i < 20; i++) {
      await c.leader().propose(new TextEncoder().encode(`w${i}`));
      await follower.linearizableRead();
      assert.equal(machine.items.length, i + 1, 'the read waited for the write to apply here');
    }
  } finally {
    await c.stop();
  }
});

test('leadership transfer hands over to the chosen voter', async () => {
  const c = await cluster(['a', 'b', 'c']);
  try {
    const old = c.leader();
    const target = ['a', 'b', 'c'].find((id) => id !== old.id) as string;
    old.transferLeadership(target);
    await until('the target leads', () => c.hub.agents.get(target)?.isLeader() === true);
  } finally {
    await c.stop();
  }
});

/** A list whose snapshot takes `encodeMs` of busy CPU, like a big table's. */
class SlowSnapshotMachine extends ListMachine {
  snapshots = 0;
  constructor(private readonly encodeMs: number) {
    super();
  }
  override snapshot(): Uint8Array {
    const until = performance.now() + this.encodeMs;
    while (performance.now() < until) { /* encoding */ }
    this.snapshots++;
    return super.snapshot();
  }
}

test('a leader hands leadership on before a snapshot that would block it for half an election timeout', async () => {
  const handOffs: NodeId[] = [];
  const logger = (id: NodeId): Logger => ({ ...silentLogger, info: (msg) => { if (msg.startsWith('handing leadership on')) handOffs.push(id); } });
  // 30 ms of encoding against a 50 ms election timeout: known to be long once timed.
  const c = await cluster(['a', 'b', 'c'], { machine: () => new SlowSnapshotMachine(30), snapshotEntries: 10, logger });
  try {
    const leaders = new Set<NodeId>();
    let acknowledged = 0;
    for (let i = 0; i < 300 && handOffs.length < 2; i++, acknowledged++) {
      for (let tries = 0; ; tries++) {
        // Leadership moves (or is moving) to another node: retry there, as a client would.
        assert.ok(tries < 200, `w${i} was not accepted`);
        const leader = c.leader() as Agent | null;
        if (leader === null) {
          await new Promise((r) => setTimeout(r, 5));
          continue;
        }
        leaders.add(leader.id);
        const accepted = await leader.propose(new TextEncoder().encode(`w${i}`)).then(() => true, () => false);
        if (accepted) break;
        await new Promise((r) => setTimeout(r, 5));
      }
    }
    assert.ok(handOffs.length >= 2, `leaders handed off before long snapshots (${handOffs.length})`);
    assert.ok(leaders.size >= 2, 'leadership moved');
    for (const [id, machine] of c.machines) assert.ok((machine as SlowSnapshotMachine).snapshots > 0, `${id} took snapshots`);
    // A retried proposal may have applied twice; no acknowledged one is missing, on any replica.
    await until('replicas agree', () => new Set([...c.machines.values()].map((m) => m.items.join())).size === 1);
    const items = new Set(c.machines.get('a')?.items ?? []);
    for (let i = 0; i < acknowledged; i++) assert.ok(items.has(`w${i}`), `w${i} was acknowledged and is missing`);
  } finally {
    await c.stop();
  }
});

test('an added node joins as a learner, becomes a voter once caught up, and can be removed', async () => {
  const c = await cluster(['a', 'b', 'c']);
  try {
    for (let i = 0; i < 5; i++) await c.leader().propose(new TextEncoder().encode(`v${i}`));
    const machine = new ListMachine();
    const d = await Agent.start({ id: 'd', store: new MemoryLogStore(), stateMachine: machine, transport: c.hub.transport('d'), address: { rpc: '127.0.0.1:7999', http: '127.0.0.1:8999' }, peers: null, timing: { tickMs: 5, heartbeatMs: 10, electionMs: 50 }, logger: silentLogger });
    c.hub.agents.set('d', d);
    await c.leader().addMember('d', { rpc: '127.0.0.1:7999', http: '127.0.0.1:8999' });
    await until('d is a voter', () => c.leader().cluster().members.some((m) => m.id === 'd' && m.voter));
    await until('d applied the log', () => machine.items.length === 5);
    await c.leader().removeMember('d');
    await until('d is gone', () => !c.leader().cluster().members.some((m) => m.id === 'd'));
    await d.stop(100);
  } finally {
    await c.stop();
  }
});
