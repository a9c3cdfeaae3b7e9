import { test } from 'node:test';
import assert from 'node:assert/strict';
import { unpack } from 'msgpackr';
import { ReplicatedJobs, encodeCommand, validateJobSpec } from '../statemachine/index.js';
import { MemberDirectory, encodeMemberContext } from './member-directory.js';
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
