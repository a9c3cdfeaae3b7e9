import { test } from 'node:test';
import assert from 'node:assert/strict';
import { pack, unpack } from 'msgpackr';
import { ReplicatedJobs, encodeCommand, validateJobSpec } from '../statemachine/index.js';
import { MemberDirectory, RETIRED_IDS_MAX, encodeMemberContext } from './member-directory.js';
import type { StateMachine } from './ports.js';

function put(id: string, index: number): { index: number; term: number; kind: 'normal'; data: Uint8Array } {
  const checked = validateJobSpec(id, { schedule: '@manual', executor: { type: 'shell', command: `echo ${id}` } });
  assert.ok(checked.ok);
  return { index, term: 1, kind: 'normal', data: encodeCommand({ type: 'putJob', id, spec: checked.spec, at: 1 }) };
}

test('a snapshot frames the table image in place and restores to the same bytes', () => {
  const jobs = new ReplicatedJobs();
  const a = new MemberDirectory(jobs);
  a.applyConfChange({ type: 'addVoter', node: 'n1', context: encodeMemberContext({ rpc: '127.0.0.1:1', http: '127.0.0.1:2' }) });
  for (let i = 0; i < 50; i++) a.apply(put(`j${i}`, i + 1), i % 2 === 0);
  const snap = a.snapshot();
  const inner: unknown = Reflect.get(Object(unpack(snap)), 'inner');
  assert.ok(inner instanceof Uint8Array && inner.length > 0);
  const restored = new ReplicatedJobs();
  const b = new MemberDirectory(restored);
  b.restore(snap);
  assert.equal(Buffer.compare(b.snapshot(), snap), 0, 'byte-identical after a round trip');
  assert.equal(restored.table.getJob('j49')?.id, 'j49');
  assert.deepEqual(b.addresses.get('n1'), { rpc: '127.0.0.1:1', http: '127.0.0.1:2' });
});

test('an inner state machine that ignores the frame still gets a readable snapshot', () => {
  let restored: Uint8Array | null = null;
  const plain: StateMachine<string, void> = {
    encode: (command) => new TextEncoder().encode(command),
    apply: () => undefined,
    snapshot: () => new Uint8Array([1, 2, 3]),
    restore: (data) => {
      restored = data;
    },
  };
  const a = new MemberDirectory(plain);
  const b = new MemberDirectory(plain);
  b.restore(a.snapshot());
  assert.deepEqual([...(restored ?? [])], [1, 2, 3]);
});

test('a snapshot with a malformed address row is refused with a clear error', () => {
  const plain: StateMachine<string, void> = { encode: () => new Uint8Array(0), apply: () => undefined, snapshot: () => new Uint8Array(0), restore: () => {} };
  const bad = new MemberDirectory(plain);
  assert.throws(() => bad.restore(new Uint8Array([0x93, 1, 2, 3])), /snapshot (format|is malformed)/);
});

test('applying a removal tells the state machine: the job table ends that node\'s executions lost, and the listener hears which runs', () => {
  const heard: [string, string[]][] = [];
  const jobs = new ReplicatedJobs(() => undefined, (node, runs) => heard.push([node, runs.map((r) => r.runId)]));
  const directory = new MemberDirectory(jobs);
  directory.applyConfChange({ type: 'addVoter', node: 'n2', context: encodeMemberContext({ rpc: '127.0.0.1:1', http: '127.0.0.1:2' }) });
  directory.apply(put('a', 1), false);
  const fire = { type: 'fire', at: 2, fires: [{ jobId: 'a', runId: 'r1', scheduledAt: 2, trigger: 'manual', executors: ['n2'], outcome: 'run' }] } as const;
  directory.apply({ index: 2, term: 1, kind: 'normal', data: encodeCommand(fire) }, false);
  assert.equal(jobs.table.getRun('r1')?.status, 'pending');
  directory.applyConfChange({ type: 'remove', node: 'n2', context: '' });
  assert.deepEqual(heard, [['n2', ['r1']]]);
  assert.equal(jobs.table.getRun('r1')?.status, 'lost');
  assert.equal(directory.addresses.has('n2'), false);
});

test('a voter removed is retired for good, in snapshots too; a worker that never voted is not; the oldest retired id goes past the limit', () => {
  const at = (id: string) => encodeMemberContext({ rpc: `${id}:1`, http: `${id}:2` });
  const a = new MemberDirectory(new ReplicatedJobs());
  a.applyConfChange({ type: 'addVoter', node: 'n1', context: at('n1') });
  a.applyConfChange({ type: 'addLearner', node: 'n2', context: at('n2') });
  a.applyConfChange({ type: 'addVoter', node: 'n2', context: at('n2') });
  a.applyConfChange({ type: 'addLearner', node: 'n2', context: encodeMemberContext({ rpc: 'n2:1', http: 'n2:2' }, 'worker') }); // demoted: it voted
  a.applyConfChange({ type: 'addLearner', node: 'w1', context: encodeMemberContext({ rpc: 'w1:1', http: 'w1:2' }, 'worker') });
  a.applyConfChange({ type: 'addLearner', node: 'l1', context: at('l1') }); // on its way to voting, never got there
  for (const id of ['n2', 'w1', 'l1']) a.applyConfChange({ type: 'remove', node: id, context: '' });
  assert.deepEqual([...a.retired], ['n2']);
  assert.deepEqual([...a.voted], ['n1']);

  const b = new MemberDirectory(new ReplicatedJobs());
  b.restore(a.snapshot());
  assert.deepEqual([...b.retired], ['n2']);
  assert.deepEqual([...b.voted], ['n1']);

  // A snapshot from before `voted` and `retired`: both empty; the runtime then names the voters of its membership.
  const old = Object(unpack(a.snapshot()));
  Reflect.deleteProperty(old, 'voted');
  Reflect.deleteProperty(old, 'retired');
  const c = new MemberDirectory(new ReplicatedJobs());
  c.restore(pack(old));
  assert.deepEqual([...c.retired], []);
  c.noteVoters(['n1']);
  c.applyConfChange({ type: 'remove', node: 'n1', context: '' });
  assert.deepEqual([...c.retired], ['n1']);

  const d = new MemberDirectory(new ReplicatedJobs());
  for (let i = 0; i <= RETIRED_IDS_MAX; i++) {
    d.applyConfChange({ type: 'addVoter', node: `v${i}`, context: '' });
    d.applyConfChange({ type: 'remove', node: `v${i}`, context: '' });
  }
  assert.equal(d.retired.size, RETIRED_IDS_MAX);
  assert.ok(!d.retired.has('v0') && d.retired.has(`v${RETIRED_IDS_MAX}`), 'the oldest was forgotten');

  const bad = Object(unpack(a.snapshot()));
  bad.retired = [7];
  assert.throws(() => new MemberDirectory(new ReplicatedJobs()).restore(pack(bad)), /an id in retired/);
});
