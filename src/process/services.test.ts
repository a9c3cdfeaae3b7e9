// The services between the API and the node: a change that took effect is answered as done
// even when the audit record that follows it in its own entry cannot be committed — a client
// told "not run" would make the change again.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { AuditRecord } from '../access/index.js';
import { ChimeError, isChimeError } from '../errors/index.js';
import type { Command } from '../statemachine/index.js';
import { auditSinkOf, clusterServiceOf, type MemberNode } from './services.js';

const audit: AuditRecord = { at: 1_700_000_000_000, actor: 'admin', method: 'DELETE', path: '/v1/cluster/members/n2', target: 'n2' };
const deposed = () => new ChimeError('NOT_LEADER', 'this node is not the leader', { leader: 'n3' });

/** A node whose proposals (the audit entries) all meet `outcome`, and whose member changes do what `removal` does. */
function nodes(outcome: () => Promise<never>, removal: () => Promise<void>) {
  const proposed: Command[] = [];
  const removed: string[] = [];
  const unused = (): never => {
    throw new Error('not used by this test');
  };
  const member: MemberNode = {
    clusterView: unused, isReady: unused, addMember: unused, setMemberRole: unused, transferLeadership: unused,
    removeMember: async (id) => {
      await removal();
      removed.push(id);
    },
  };
  const lost = { count: 0 };
  const audits = auditSinkOf({ propose: (command) => {
    proposed.push(command);
    return outcome();
  } }, () => (lost.count += 1));
  return { cluster: clusterServiceOf(member, audits), audits, proposed, removed, lost };
}

test('a removal that committed is answered as done though leadership moved before its audit record; the lost record is counted', async () => {
  const n = nodes(() => Promise.reject(deposed()), async () => {});
  await n.cluster.removeMember('n2', audit);
  assert.deepEqual(n.removed, ['n2']);
  assert.equal(n.proposed.length, 1, 'the audit record was proposed after the change');
  assert.equal(n.proposed[0]?.type, 'audit');
  assert.equal(n.lost.count, 1);
});

test('a refused member change records nothing and its refusal reaches the client', async () => {
  const n = nodes(() => Promise.reject(new Error('no audit expected')), () => Promise.reject(deposed()));
  await assert.rejects(n.cluster.removeMember('n2', audit), (e: unknown) => isChimeError(e, 'NOT_LEADER'));
  assert.deepEqual(n.proposed, []);
  assert.equal(n.lost.count, 0);
});

test('record (before a change, as a transfer does) still rejects; recordAfter never does', async () => {
  const n = nodes(() => Promise.reject(deposed()), async () => {});
  await assert.rejects(n.audits.record(audit), (e: unknown) => isChimeError(e, 'NOT_LEADER'));
  await n.audits.recordAfter(audit);
  assert.equal(n.lost.count, 1, 'only recordAfter counts a lost record');
});
