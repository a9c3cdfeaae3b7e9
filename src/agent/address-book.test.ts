import { test } from 'node:test';
import assert from 'node:assert/strict';
import { unpack } from 'msgpackr';
import { encodeCommand, validateJobSpec } from '../statemachine/index.js';
import { encodeMemberContext, ReplicatedState } from './address-book.js';
import { JobStateMachine } from './job-state.js';
import type { StateMachine } from './raft-host.js';

function put(id: string): Uint8Array {
  const checked = validateJobSpec(id, { schedule: '@manual', executor: { type: 'shell', command: `echo ${id}` } });
  assert.ok(checked.ok);
  return encodeCommand({ type: 'putJob', id, spec: checked.spec, at: 1 });
}

test('a snapshot frames the table image in place and restores to the same bytes', () => {
  const a = new ReplicatedState(new JobStateMachine());
  a.applyConfChange({ type: 'addVoter', node: 'n1', context: encodeMemberContext({ rpc: '127.0.0.1:1', http: '127.0.0.1:2' }) });
  for (let i = 0; i < 50; i++) a.apply(put(`j${i}`), i + 1);
  const snap = a.snapshot();
  const decoded = unpack(snap) as { v: number; inner: Uint8Array };
  assert.ok(decoded.inner instanceof Uint8Array && decoded.inner.length > 0);
  const b = new ReplicatedState(new JobStateMachine());
  b.restore(snap);
  assert.equal(Buffer.compare(b.snapshot(), snap), 0, 'byte-identical after a round trip');
  assert.equal((b.inner as JobStateMachine).table.getJob('j49')?.id, 'j49');
  assert.deepEqual(b.addresses.get('n1'), { rpc: '127.0.0.1:1', http: '127.0.0.1:2' });
});

test('an inner state machine that ignores the frame still gets a readable snapshot', () => {
  const plain: StateMachine & { restored: Uint8Array | null } = {
    restored: null,
    apply: () => undefined,
    snapshot: () => new Uint8Array([1, 2, 3]),
    restore(data) {
      this.restored = data;
    },
  };
  const a = new ReplicatedState(plain);
  const b = new ReplicatedState(plain);
  b.restore(a.snapshot());
  assert.deepEqual([...(plain.restored ?? [])], [1, 2, 3]);
});
