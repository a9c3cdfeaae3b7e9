// The node runtime on virtual time (test/support/virtual-cluster.ts): elections, proposals,
// reads, transfers, hand-off before long snapshots and membership, each deterministic.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isChimeError } from '../errors/index.js';
import type { Entry, NodeId } from '../raft/index.js';
import { VirtualCluster } from '../../test/support/virtual-cluster.js';
import type { NodeEvents, StateMachine } from './ports.js';
import type { NodeLimits, NodeRuntime, NodeTiming } from './node-runtime.js';

/** A replicated list of strings: apply appends a command and answers with the new length. */
class ListMachine implements StateMachine<string, number> {
  items: string[] = [];
  snapshots = 0;
  constructor(private readonly encodeMs: number = 0, private readonly burn: (ms: number) => void = () => {}) {}
  encode(command: string): Uint8Array {
    return new TextEncoder().encode(command);
  }
  apply(entry: Entry): number {
    if (entry.kind === 'normal' && entry.data.length > 0) this.items.push(new TextDecoder().decode(entry.data));
    return this.items.length;
  }
  snapshot(): Uint8Array {
    // A big table's encoding blocks the event loop: in virtual time, the node is busy.
    this.burn(this.encodeMs);
    this.snapshots++;
    return new TextEncoder().encode(JSON.stringify(this.items));
  }
  restore(data: Uint8Array): void {
    const parsed: unknown = JSON.parse(new TextDecoder().decode(data));
    assert.ok(Array.isArray(parsed));
    this.items = parsed.map(String);
  }
}

function list(cluster: VirtualCluster<string, number>, id: NodeId): ListMachine {
  const machine = cluster.machine(id);
  assert.ok(machine instanceof ListMachine);
  return machine;
}

async function threeNodes(seed = 1): Promise<VirtualCluster<string, number>> {
  const cluster = new VirtualCluster<string, number>(['a', 'b', 'c'], { seed, machine: () => new ListMachine() });
  await cluster.runUntil('a leader all agree on', () => cluster.leader() !== null);
  return cluster;
}

function leaderOf(cluster: VirtualCluster<string, number>): NodeId {
  const leader = cluster.leader();
  assert.ok(leader !== null, 'no leader');
  return leader;
}

test('three nodes elect one leader that every member agrees on', async () => {
  for (const seed of [1, 2, 3]) {
    const c = await threeNodes(seed);
    const leader = leaderOf(c);
    assert.equal(c.runtime(leader).clusterView().members.length, 3);
    assert.ok(c.nowMs < 1000, `elected within 1 s of virtual time (took ${c.nowMs} ms)`);
  }
});

test('a proposal resolves with the state machine result once applied, and followers apply it too', async () => {
  const c = await threeNodes();
  const leader = c.runtime(leaderOf(c));
  const results = await c.settle(Promise.all(['x', 'y', 'z'].map((v) => leader.propose(v))));
  assert.deepEqual(results, [1, 2, 3]);
  await c.runUntil('followers apply', () => ['a', 'b', 'c'].every((id) => list(c, id).items.length === 3));
  const follower = ['a', 'b', 'c'].find((id) => id !== leader.id) ?? '';
  await assert.rejects(c.settle(c.runtime(follower).propose('no')), (e: unknown) => isChimeError(e, 'NOT_LEADER') && e.leader === leader.id);
});

test('a linearizable read on a follower sees a write acknowledged before it began', async () => {
  const c = await threeNodes();
  const leader = c.runtime(leaderOf(c));
  const follower = ['a', 'b', 'c'].find((id) => id !== leader.id) ?? '';
  for (let i = 0; i < 20; i++) {
    await c.settle(leader.propose(`w${i}`));
    await c.settle(c.runtime(follower).read());
    assert.equal(list(c, follower).items.length, i + 1, 'the read waited for the write to apply here');
  }
});

test('pending proposals are bounded: beyond the limit a proposal is refused with PROPOSALS_FULL', async () => {
  const c = new VirtualCluster<string, number>(['a', 'b', 'c'], { machine: () => new ListMachine(), limits: { proposalsPendingMax: 5 } });
  await c.runUntil('a leader', () => c.leader() !== null);
  const leader = c.runtime(leaderOf(c));
  const accepted = Array.from({ length: 5 }, (_, i) => leader.propose(`p${i}`));
  await assert.rejects(c.settle(leader.propose('one too many')), (e: unknown) => isChimeError(e, 'PROPOSALS_FULL'));
  assert.deepEqual(await c.settle(Promise.all(accepted)), [1, 2, 3, 4, 5]);
});

test('leadership transfer hands over to the chosen voter', async () => {
  const c = await threeNodes();
  const old = leaderOf(c);
  const target = ['a', 'b', 'c'].find((id) => id !== old) ?? '';
  c.runtime(old).transferLeadership(target);
  await c.runUntil('the target leads', () => c.leader() === target, 2000);
});

test('a leader hands leadership on before a snapshot that would block it for half an election timeout', async () => {
  const handOffs: NodeId[] = [];
  // 30 ms of encoding against a 50 ms election timeout: known to be long once timed.
  let c: VirtualCluster<string, number> | null = null;
  const cluster = new VirtualCluster<string, number>(['a', 'b', 'c'], {
    machine: () => new ListMachine(30, (ms) => c?.stall(ms)),
    limits: { snapshotEntries: 10 },
    events: (id) => ({ snapshotHandOff: () => void handOffs.push(id) }),
  });
  c = cluster;
  await cluster.runUntil('a leader', () => cluster.leader() !== null);
  const leaders = new Set<NodeId>();
  let acknowledged = 0;
  for (let i = 0; i < 1000 && handOffs.length < 2; i++, acknowledged++) {
    for (let tries = 0; ; tries++) {
      // Leadership moves (or is moving) to another node: retry there, as a client would.
      assert.ok(tries < 200, `w${i} was not accepted`);
      const leader = cluster.leader();
      if (leader === null) {
        await cluster.runUntil('a leader', () => cluster.leader() !== null);
        continue;
      }
      leaders.add(leader);
      const accepted = await cluster.settle(cluster.runtime(leader).propose(`w${i}`)).then(() => true, () => false);
      if (accepted) break;
      await cluster.wait(5);
    }
  }
  assert.ok(handOffs.length >= 2, `leaders handed off before long snapshots (${handOffs.length})`);
  assert.ok(leaders.size >= 2, 'leadership moved');
  for (const id of ['a', 'b', 'c']) assert.ok(list(cluster, id).snapshots > 0, `${id} took snapshots`);
  // A retried proposal may have applied twice; no acknowledged one is missing, on any replica.
  await cluster.runUntil('replicas agree', () => new Set(['a', 'b', 'c'].map((id) => list(cluster, id).items.join())).size === 1);
  const items = new Set(list(cluster, 'a').items);
  for (let i = 0; i < acknowledged; i++) assert.ok(items.has(`w${i}`), `w${i} was acknowledged and is missing`);
});

test('an added node joins as a learner, becomes a voter once caught up, and can be removed', async () => {
  const c = await threeNodes();
  const leader = c.runtime(leaderOf(c));
  for (let i = 0; i < 5; i++) await c.settle(leader.propose(`v${i}`));
  c.addEmpty('d');
  await c.settle(leader.addMember('d', { rpc: 'd:rpc', http: 'd:http' }));
  await c.runUntil('d is a voter', () => leader.clusterView().members.some((m) => m.id === 'd' && m.voter));
  await c.runUntil('d applied the log', () => list(c, 'd').items.length === 5);
  assert.equal(c.runtime('d').leader(), leader.id, 'd follows the leader');
  await c.settle(leader.removeMember('d'));
  await c.runUntil('d is gone', () => !leader.clusterView().members.some((m) => m.id === 'd'));
  await c.stop('d');
});

/** What became of a promise, watched without running the clock: null while it is pending, then its rejection or 'ok'. */
function watch(promise: Promise<unknown>): { outcome: unknown } {
  const box: { outcome: unknown } = { outcome: null };
  promise.then(() => void (box.outcome = 'ok'), (error: unknown) => void (box.outcome = error));
  return box;
}

/** Three nodes whose leader has applied its own first entry (before that it takes no membership change). */
async function threeReady(seed: number, limits: Partial<NodeLimits> = {}, events?: (id: NodeId) => NodeEvents, timing?: NodeTiming): Promise<VirtualCluster<string, number>> {
  const c = new VirtualCluster<string, number>(['a', 'b', 'c'], { seed, machine: () => new ListMachine(), limits, ...(events === undefined ? {} : { events }), ...(timing === undefined ? {} : { timing }) });
  await c.runUntil('a leader', () => c.leader() !== null);
  await c.settle(c.runtime(leaderOf(c)).propose('first'));
  return c;
}

function addWorker(runtime: NodeRuntime<string, number>, id: NodeId): Promise<void> {
  return runtime.addMember(id, { rpc: `${id}:rpc`, http: `${id}:http` }, 'worker');
}

test('membership changes asked for at once wait for each other (no 409) and take effect in the order asked', async () => {
  const applied: string[] = [];
  const c = await threeReady(11, {}, (id) => ({ confChanged: (type, node) => void applied.push(`${id} ${type} ${node}`) }));
  const leader = c.runtime(leaderOf(c));
  const workers = ['w1', 'w2', 'w3', 'w4'];
  for (const id of workers) c.addEmpty(id);
  // The core takes one change at a time: all but the first find one pending, and wait here.
  const asked = workers.map((id) => watch(addWorker(leader, id)));
  await c.runUntil('every change answered', () => asked.every((a) => a.outcome !== null));
  assert.deepEqual(asked.map((a) => a.outcome), ['ok', 'ok', 'ok', 'ok']);
  await c.settle(leader.removeMember('w2'));
  await c.runUntil('the removal applied', () => !leader.status().conf.learners.includes('w2'));
  assert.deepEqual(leader.status().conf.learners, ['w1', 'w3', 'w4']);
  const onLeader = applied.filter((line) => line.startsWith(`${leader.id} `) && line.includes(' w')).map((line) => line.slice(leader.id.length + 1));
  assert.deepEqual(onLeader, ['addLearner w1', 'addLearner w2', 'addLearner w3', 'addLearner w4', 'remove w2']);
});

test('a held membership change is refused (CONF_CHANGE_PENDING) beyond the queue limit and after its hold, and as not run when leadership is lost; none of them is made', async () => {
  const c = await threeReady(12, { confChangeHoldMs: 100, confChangesHeldMax: 2 }, undefined, { tickMs: 10, heartbeatMs: 50, electionMs: 1000 });
  const leader = c.runtime(leaderOf(c));
  const followers = ['a', 'b', 'c'].filter((id) => id !== leader.id);
  // Cut off from both followers, the leader cannot commit the first change: it stays pending
  // until the leader steps down (check-quorum: an election timeout, here 1 s), long past the hold.
  for (const id of followers) c.isolated.add(id);
  const first = watch(addWorker(leader, 'w1'));
  const held = ['w2', 'w3'].map((id) => watch(addWorker(leader, id)));
  const overflow = watch(addWorker(leader, 'w4'));
  await c.runUntil('the third waiter answered', () => overflow.outcome !== null, 1);
  assert.ok(isChimeError(overflow.outcome, 'CONF_CHANGE_PENDING') && /already wait/.test(overflow.outcome.message), `refused at once: ${String(overflow.outcome)}`);
  const startedMs = c.nowMs;
  await c.runUntil('the held changes answered', () => held.every((h) => h.outcome !== null));
  for (const { outcome } of held) assert.ok(isChimeError(outcome, 'CONF_CHANGE_PENDING') && /still not applied after 100 ms/.test(outcome.message), String(outcome));
  assert.ok(c.nowMs - startedMs >= 100 && c.nowMs - startedMs < 150, `refused after the hold (${c.nowMs - startedMs} ms)`);
  assert.equal(first.outcome, null, 'the first change still waits for its commit');
  for (const id of followers) c.isolated.delete(id);
  await c.runUntil('the first change answered', () => first.outcome !== null);
  await c.runUntil('a leader again', () => c.leader() !== null);
  const now = c.runtime(leaderOf(c));
  for (const id of ['w2', 'w3', 'w4']) assert.ok(!now.status().conf.learners.includes(id), `${id} was not added`);

  // With the default hold (5 s), a held change outlives its leader (check-quorum steps it
  // down after an election timeout): refused as not run, never made.
  const d = await threeReady(14);
  const deposed = d.runtime(leaderOf(d));
  for (const id of ['a', 'b', 'c']) if (id !== deposed.id) d.isolated.add(id);
  const pending = watch(addWorker(deposed, 'w1'));
  const waiting = watch(addWorker(deposed, 'w2'));
  await d.runUntil('the leader stepped down', () => !deposed.isLeader());
  await d.runUntil('the held change answered', () => waiting.outcome !== null, 1);
  assert.ok(isChimeError(waiting.outcome, 'NOT_LEADER', 'NO_LEADER'), String(waiting.outcome));
  d.isolated.clear();
  await d.runUntil('the pending change answered', () => pending.outcome !== null);
  await d.runUntil('a leader again', () => d.leader() !== null);
  assert.ok(!d.runtime(leaderOf(d)).status().conf.learners.includes('w2'), 'w2 was not added');
});

/** threeReady plus a fourth voter `id` (rpc `ID:rpc`), joined as a learner and promoted once caught up. */
async function threeReadyWithVoter(seed: number, id: NodeId): Promise<{ c: VirtualCluster<string, number>; leader: NodeRuntime<string, number> }> {
  const c = await threeReady(seed);
  const leader = c.runtime(leaderOf(c));
  c.addEmpty(id);
  await c.settle(leader.addMember(id, { rpc: `${id}:rpc`, http: `${id}:http` }));
  await c.runUntil(`${id} is a voter`, () => leader.status().conf.voters.includes(id));
  return { c, leader };
}

test('a voter that was removed never becomes a member again under its id, also when its return waited in the queue of held changes; a worker may come back', async () => {
  const { c, leader } = await threeReadyWithVoter(15, 'd');
  await c.settle(leader.removeMember('d'));
  await c.runUntil('d removed', () => !leader.status().conf.voters.includes('d'));
  await c.stop('d');
  // Its return asked for behind two other changes (one pending, one held): it waits in the
  // queue, and is judged as it leaves it.
  for (const id of ['w2', 'w3']) c.addEmpty(id);
  const others = ['w2', 'w3'].map((id) => watch(addWorker(leader, id)));
  const back = watch(leader.addMember('d', { rpc: 'd:rpc', http: 'd:http' }));
  await c.runUntil('all answered', () => back.outcome !== null && others.every((o) => o.outcome !== null));
  assert.deepEqual(others.map((o) => o.outcome), ['ok', 'ok']);
  assert.ok(isChimeError(back.outcome, 'CONF_CHANGE_INVALID') && /was a voter and was removed/.test(back.outcome.message), String(back.outcome));
  const again = watch(leader.addMember('d', { rpc: 'd:rpc', http: 'd:http' }));
  await c.runUntil('refused at once', () => again.outcome !== null, 1);
  assert.ok(isChimeError(again.outcome, 'CONF_CHANGE_INVALID'), String(again.outcome));
  assert.ok(!leader.status().conf.learners.includes('d') && !leader.status().conf.voters.includes('d'), 'd is no member');
  // Every replica keeps the rule, so the next leader refuses too.
  const other = c.runtime(['a', 'b', 'c'].find((id) => id !== leader.id) as NodeId);
  leader.transferLeadership(other.id);
  await c.runUntil('the other node leads', () => c.leader() === other.id);
  await c.settle(other.propose('own term'));
  await assert.rejects(other.addMember('d', { rpc: 'd:rpc', http: 'd:http' }), (error: unknown) => isChimeError(error, 'CONF_CHANGE_INVALID'));

  // A worker never voted: removed, it may join again under its id.
  c.addEmpty('w1');
  await c.settle(addWorker(other, 'w1'));
  await c.settle(other.removeMember('w1'));
  await c.runUntil('w1 removed', () => !other.status().conf.learners.includes('w1'));
  await c.settle(addWorker(other, 'w1'));
  await c.runUntil('w1 is back', () => other.status().conf.learners.includes('w1'));
});

test('adding a member again changes nothing: the same address and role is a repeated join, answered as done; anything else is refused', async () => {
  const { c, leader } = await threeReadyWithVoter(16, 'd');
  const before = leader.status().lastIndex;
  await c.settle(leader.addMember('d', { rpc: 'd:rpc', http: 'd:http' }));
  await assert.rejects(leader.addMember('d', { rpc: 'elsewhere:1', http: '' }), (error: unknown) => isChimeError(error, 'CONF_CHANGE_INVALID') && /already a member at d:rpc/.test(error.message));
  await assert.rejects(addWorker(leader, 'd'), (error: unknown) => isChimeError(error, 'CONF_CHANGE_INVALID'));
  assert.equal(leader.status().lastIndex, before, 'no membership entry was proposed');
  assert.ok(leader.status().conf.voters.includes('d'), 'still a voter');
  c.addEmpty('w1');
  await c.settle(addWorker(leader, 'w1'));
  await c.runUntil('w1 is a member', () => leader.status().conf.learners.includes('w1'));
  await c.settle(addWorker(leader, 'w1'));
  await assert.rejects(leader.addMember('w1', { rpc: 'w1:rpc', http: 'w1:http' }), (error: unknown) => isChimeError(error, 'CONF_CHANGE_INVALID'));
  assert.ok(leader.status().conf.learners.includes('w1'), 'still a worker');
});

test('with no hold (confChangeHoldMs 0) a change that finds another pending is refused at once', async () => {
  const c = await threeReady(13, { confChangeHoldMs: 0 });
  const leader = c.runtime(leaderOf(c));
  c.addEmpty('w1');
  const first = addWorker(leader, 'w1');
  const second = watch(addWorker(leader, 'w2'));
  await c.runUntil('the second answered', () => second.outcome !== null, 1);
  assert.ok(isChimeError(second.outcome, 'CONF_CHANGE_PENDING'), String(second.outcome));
  await c.settle(first);
});

test('a worker member never becomes a voter by itself; promote and demote are explicit; a demoted leader steps down', async () => {
  const c = await threeNodes(3);
  const leader = c.runtime(leaderOf(c));
  for (let i = 0; i < 5; i++) await c.settle(leader.propose(`v${i}`));
  c.addEmpty('w');
  await c.settle(leader.addMember('w', { rpc: 'w:rpc', http: 'w:http' }, 'worker'));
  await c.runUntil('w applied the log', () => list(c, 'w').items.length === 5);
  await c.wait(2000);
  const w = leader.clusterView().members.find((m) => m.id === 'w');
  assert.deepEqual(w && [w.role, w.voter], ['worker', false], 'caught up, still a worker');
  assert.deepEqual(leader.status().conf.voters.length, 3);
  await c.settle(leader.setMemberRole('w', 'voter'));
  await c.runUntil('w votes', () => leader.clusterView().members.some((m) => m.id === 'w' && m.voter && m.role === 'follower'));
  await c.settle(leader.setMemberRole('w', 'worker'));
  await c.runUntil('w is a worker again', () => leader.clusterView().members.some((m) => m.id === 'w' && !m.voter && m.role === 'worker'));
  await c.settle(leader.propose('after-demote'));
  await c.runUntil('w still receives the log', () => list(c, 'w').items.includes('after-demote'));
  // The leader demotes itself: it steps down once the change applies, and a voter takes over.
  const old = leader.id;
  await c.settle(leader.setMemberRole(old, 'worker'));
  await c.runUntil('another voter leads', () => { const l = c.leader(); return l !== null && l !== old && l !== 'w'; });
  const now = c.runtime(leaderOf(c));
  await c.runUntil('the new leader applied the demotion', () => !now.status().conf.voters.includes(old));
  assert.deepEqual([...now.status().conf.voters].sort(), ['a', 'b', 'c'].filter((id) => id !== old).sort());
  assert.equal(now.clusterView().members.find((m) => m.id === old)?.role, 'worker');
  const refused = await c.settle(now.setMemberRole('w', 'worker')).then(() => null, (e: unknown) => e);
  assert.ok(isChimeError(refused, 'CONF_CHANGE_INVALID'), 'already a worker');
});

test('an idle node wakes only for what is due: the leader per heartbeat, a follower per election timeout, a worker learner hardly ever; promoted, a worker keeps an election deadline', async () => {
  const c = await threeNodes(5);
  const leader = c.runtime(leaderOf(c));
  await c.settle(leader.propose('x'));
  c.addEmpty('w');
  await c.settle(leader.addMember('w', { rpc: 'w:rpc', http: 'w:http' }, 'worker'));
  await c.runUntil('w applied the log', () => list(c, 'w').items.length === 1);
  /** Every timer the node arms from now on (its Raft clock's and any other). */
  const timers = (id: NodeId): number[] => {
    const clock = c.nodes.get(id)?.clock;
    assert.ok(clock !== null && clock !== undefined);
    const seen: number[] = [];
    const setTimer = clock.setTimer.bind(clock);
    clock.setTimer = (delayMs, fn) => {
      seen.push(delayMs);
      return setTimer(delayMs, fn);
    };
    return seen;
  };
  const follower = leader.id === 'a' ? 'b' : 'a';
  const byLeader = timers(leader.id);
  const byFollower = timers(follower);
  const byWorker = timers('w');
  await c.wait(1000);
  // VIRTUAL_TIMING: a tick is 5 ms, a heartbeat 10 ms, an election timeout 50–95 ms. Ticking
  // every tick would be 200 timers a second each.
  assert.ok(byLeader.length >= 90 && byLeader.length <= 130, `the leader armed ${byLeader.length} timers in 1 s (a heartbeat every 10 ms)`);
  assert.ok(byFollower.length <= 40, `a follower armed ${byFollower.length} (its election deadline, moved by each heartbeat, is checked when it comes)`);
  assert.ok(byWorker.length <= 10, `the worker armed ${byWorker.length} (a learner times nothing)`);
  assert.equal(c.leader(), leader.id, 'no election meanwhile');
  await c.settle(leader.setMemberRole('w', 'voter'));
  await c.runUntil('w votes', () => leader.clusterView().members.some((m) => m.id === 'w' && m.voter));
  // Promoted, w keeps an election deadline, as the follower does.
  byWorker.length = 0;
  byFollower.length = 0;
  await c.wait(1000);
  assert.ok(byWorker.length >= 10 && byWorker.length <= 40, `promoted, w armed ${byWorker.length} timers in 1 s (the follower ${byFollower.length})`);
});

test('a leader removes a worker member it has not heard from for removeSilentWorkersAfterMs', async () => {
  const c = new VirtualCluster<string, number>(['a', 'b', 'c'], { seed: 4, machine: () => new ListMachine(), removeSilentWorkersAfterMs: 3000 });
  await c.runUntil('a leader', () => c.leader() !== null);
  const leader = c.runtime(leaderOf(c));
  await c.settle(leader.propose('first'));
  c.addEmpty('w');
  await c.settle(leader.addMember('w', { rpc: 'w:rpc', http: 'w:http' }, 'worker'));
  await c.wait(5000);
  assert.ok(leader.clusterView().members.some((m) => m.id === 'w' && m.role === 'worker'), 'a worker that talks stays');
  await c.stop('w');
  await c.wait(1000);
  assert.ok(leader.clusterView().members.some((m) => m.id === 'w'), 'not yet: silent for 1 s');
  await c.runUntil('the silent worker is removed', () => !leader.clusterView().members.some((m) => m.id === 'w'), 5000);
  assert.deepEqual([...leader.status().conf.voters].sort(), ['a', 'b', 'c'], 'voters untouched');
});

test('a stopping leader hands leadership on first, so the others need no election timeout', async () => {
  const c = await threeNodes();
  const old = leaderOf(c);
  const startedMs = c.nowMs;
  await c.settle(c.runtime(old).handOffLeadership(3000));
  await c.stop(old);
  await c.runUntil('another node leads', () => { const l = c.leader(); return l !== null && l !== old; }, 2000);
  assert.ok(c.nowMs - startedMs < 50, `leadership moved in ${c.nowMs - startedMs} virtual ms, within one election timeout`);
});

test('a traced write passes its stages in order: appends leave before the leader persists, commit after a quorum', async () => {
  const marks = new Map<NodeId, { stage: string; index: number; atMs: number }[]>();
  const c: VirtualCluster<string, number> = new VirtualCluster<string, number>(['a', 'b', 'c'], {
    machine: () => new ListMachine(),
    events: (id) => ({ trace: (stage, index) => marks.set(id, [...(marks.get(id) ?? []), { stage, index, atMs: c.nowMs }]) }),
  });
  await c.runUntil('a leader', () => c.leader() !== null);
  const leader = leaderOf(c);
  // Right after an election followers are probed first; a settled leader streams appends.
  await c.settle(c.runtime(leader).propose('warm-up'));
  marks.clear();
  await c.settle(c.runtime(leader).propose('traced'));
  const index = c.runtime(leader).appliedIndex();
  const first = (id: NodeId, stage: string) => (marks.get(id) ?? []).findIndex((m) => m.stage === stage && m.index >= index);
  const order = ['proposed', 'appendSent', 'persisted', 'committed', 'applied'].map((stage) => first(leader, stage));
  assert.ok(order.every((i) => i >= 0), `every leader stage was marked: ${JSON.stringify(marks.get(leader))}`);
  // appendSent comes before the leader's own write finishes (§10.2.1), and each stage after the last.
  assert.deepEqual([...order].sort((x, y) => x - y), order);
  assert.ok(first(leader, 'ackReceived') >= 0 && first(leader, 'ackReceived') < first(leader, 'committed'));
  const follower = ['a', 'b', 'c'].find((id) => id !== leader && first(id, 'ackSent') >= 0) ?? '';
  assert.ok(follower !== '', 'a follower acknowledged the entry');
  assert.ok(first(follower, 'appendReceived') < first(follower, 'persisted') && first(follower, 'persisted') < first(follower, 'ackSent'));
});

test("a deposed leader's proposals are all answered, also those whose indexes it proposes at anew once it leads again", async () => {
  // The old leader, cut off, proposes writes nobody else gets. The others elect a leader whose
  // log is shorter, and the old leader's log is cut back to it when it rejoins. Leading again
  // (a transfer), it proposes at indexes its orphaned writes held: each of those must be
  // answered then, not left waiting for an entry that can no longer apply as itself.
  const c = new VirtualCluster<string, number>(['a', 'b', 'c'], { seed: 7, machine: () => new ListMachine(), timing: { tickMs: 5, heartbeatMs: 10, electionMs: 400 } });
  await c.runUntil('a leader all agree on', () => c.leader() !== null);
  const old = leaderOf(c);
  c.isolated.add(old);
  const outcomes: string[] = [];
  for (let i = 0; i < 40; i++) {
    void c.runtime(old).propose(`orphan ${i}`).then(() => outcomes.push('applied'), (error: unknown) => outcomes.push(isChimeError(error) ? error.code : String(error)));
  }
  const others = ['a', 'b', 'c'].filter((id) => id !== old);
  await c.runUntil('another leader', () => others.some((id) => c.runtime(id).isLeader()), 3000);
  const next = others.find((id) => c.runtime(id).isLeader()) ?? '';
  await c.settle(c.runtime(next).propose('kept'));
  c.isolated.delete(old);
  await c.runUntil('the old leader follows', () => c.leader() === next, 2000);
  c.runtime(next).transferLeadership(old);
  await c.runUntil('the old leader leads again', () => c.leader() === old, 2000);
  const fresh = Array.from({ length: 40 }, (_, i) => c.runtime(old).propose(`fresh ${i}`));
  for (const p of fresh) await c.settle(p, 2000);
  await c.runUntil('every orphaned proposal answered', () => outcomes.length === 40, 500);
  assert.ok(outcomes.every((o) => o === 'LEADERSHIP_LOST' || o === 'PROPOSAL_DROPPED'), `outcomes: ${[...new Set(outcomes)].join(', ')}`);
  assert.deepEqual(list(c, old).items.filter((s) => s.startsWith('orphan')), [], 'no orphaned write applied');
});
