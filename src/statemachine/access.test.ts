// Tokens and audit records as part of the replicated job table: commands through the codec,
// apply on every replica alike, the snapshot's optional `access` key.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Packr } from 'msgpackr';
import { hashToken, type AuditRecord } from '../access/index.js';
import { T0, scheduled, spec } from '../../test/support/job-table.js';
import { decodeCommand, encodeCommand } from './codec.js';
import type { Command } from './commands.js';
import { commandProblem } from './commands.js';
import { JobTable } from './table.js';

const ADMIN_HASH = hashToken('chime_admin-secret-admin-secret-admin-secret-x');
const VIEWER_HASH = hashToken('chime_viewer-secret-viewer-secret-viewer-secre');

function audit(path: string, target: string | null, at = T0): AuditRecord {
  return { at, actor: 'alice', method: 'PUT', path, target };
}

const createAdmin: Command = { type: 'createToken', id: 'bootstrap', name: 'bootstrap', role: 'admin', hash: ADMIN_HASH, createdAt: T0, expiresAt: null, createdBy: 'system', at: T0 };
const createViewer: Command = {
  type: 'createToken', id: 'aaaa000011112222', name: 'ci-viewer', role: 'viewer', hash: VIEWER_HASH, createdAt: T0 + 1, expiresAt: T0 + 3_600_000,
  createdBy: 'bootstrap', at: T0 + 1, audit: { at: T0 + 1, actor: 'bootstrap', method: 'POST', path: '/v1/tokens', target: 'aaaa000011112222' },
};

/** Applies commands through the codec, as a replica does, from index 1. */
function replay(commands: readonly Command[]): JobTable {
  const table = JobTable.create();
  commands.forEach((command, i) => table.applyEntry(encodeCommand(command), i + 1));
  return table;
}

test('token commands pass the codec and their checks; malformed ones are INVALID_COMMAND', () => {
  assert.deepEqual(decodeCommand(encodeCommand(createViewer)), createViewer);
  assert.equal(commandProblem({ ...createViewer, hash: 'nothex' }), 'createToken.hash must be 64 lowercase hex digits');
  assert.match(commandProblem({ ...createViewer, extra: 1 }) ?? '', /unknown fields/);
  assert.match(commandProblem({ type: 'revokeToken', id: 'Not An Id', at: T0 }) ?? '', /token id/);
  assert.match(commandProblem({ type: 'runLost', runId: 'r1', attempt: 1, node: 'n1', at: T0, audit: audit('/x', null) }) ?? '', /carries no audit record/);
  assert.match(commandProblem({ type: 'putJob', id: 'a', spec: {}, at: T0, audit: { ...audit('/v1/jobs/a', 'a'), method: 'BREW' } }) ?? '', /audit: method/);
  assert.match(commandProblem({ type: 'audit', record: { at: T0 }, at: T0 }) ?? '', /actor/);
});

test('tokens are created and revoked in the table; the first must be an admin without expiry', () => {
  const table = JobTable.create();
  const first = table.apply(createViewer, 1);
  assert.equal(first.ok, false);
  assert.equal(!first.ok && first.code, 'FIRST_TOKEN_NOT_ADMIN');
  assert.equal(table.tokens.hasTokens, false);
  const admin = table.apply(createAdmin, 2);
  assert.deepEqual(admin.ok && admin.kind === 'tokenCreated' ? admin.created : null, true);
  // The second bootstrap node proposes the same token: a no-op, not an error.
  const again = table.apply({ ...createAdmin, at: T0 + 5 }, 3);
  assert.deepEqual(again.ok && again.kind === 'tokenCreated' ? again.created : null, false);
  assert.equal(table.apply(createViewer, 4).ok, true);
  assert.equal(table.tokens.lookupHash(VIEWER_HASH)?.name, 'ci-viewer');
  const page = table.listTokens();
  assert.ok(page.ok);
  assert.deepEqual(page.items.map((t) => t.id), ['bootstrap', 'aaaa000011112222']);
  assert.ok(page.items.every((t) => !('hash' in t)), 'a listed token shows no hash');
  const revoked = table.apply({ type: 'revokeToken', id: 'aaaa000011112222', at: T0 + 9 }, 5);
  assert.equal(revoked.ok && revoked.kind, 'tokenRevoked');
  assert.equal(table.tokens.lookupHash(VIEWER_HASH), null);
  const last = table.apply({ type: 'revokeToken', id: 'bootstrap', at: T0 + 10 }, 6);
  assert.equal(!last.ok && last.code, 'LAST_ADMIN_TOKEN');
});

test('an accepted write appends its audit record; a refused one appends nothing', () => {
  const table = replay([
    createAdmin,
    { type: 'putJob', id: 'a', spec: spec('a'), at: T0 + 10, audit: audit('/v1/jobs/a', 'a', T0 + 10) },
    // Refused: the job does not exist.
    { type: 'pauseJob', id: 'missing', at: T0 + 20, audit: { ...audit('/v1/jobs/missing/pause', 'missing', T0 + 20), method: 'POST' } },
    { type: 'audit', record: { at: T0 + 30, actor: 'alice', method: 'POST', path: '/v1/cluster/transfer-leader', target: 'n2' }, at: T0 + 30 },
    createViewer,
  ]);
  const page = table.listAudit();
  assert.ok(page.ok);
  assert.deepEqual(page.items.map((e) => [e.seq, e.actor, e.method, e.path, e.target]), [
    [3, 'bootstrap', 'POST', '/v1/tokens', 'aaaa000011112222'],
    [2, 'alice', 'POST', '/v1/cluster/transfer-leader', 'n2'],
    [1, 'alice', 'PUT', '/v1/jobs/a', 'a'],
  ]);
  const second = table.listAudit({ limit: 2 });
  assert.ok(second.ok && second.nextCursor !== null);
  const rest = table.listAudit({ limit: 2, cursor: second.nextCursor });
  assert.deepEqual(rest.ok && rest.items.map((e) => e.seq), [1]);
});

test('tokens and audit survive a snapshot; replicas write the same bytes; a snapshot without them restores empty', () => {
  const commands: Command[] = [createAdmin, createViewer, { type: 'putJob', id: 'a', spec: spec('a'), at: T0 + 10, audit: audit('/v1/jobs/a', 'a', T0 + 10) }];
  const one = replay(commands);
  const two = replay(commands);
  const bytes = one.snapshot();
  assert.equal(Buffer.compare(bytes, two.snapshot()), 0);
  const restored = JobTable.restore(bytes);
  assert.equal(restored.tokens.lookupHash(VIEWER_HASH)?.role, 'viewer');
  assert.equal(restored.tokens.lookupHash(ADMIN_HASH)?.id, 'bootstrap');
  assert.deepEqual(restored.listAudit(), one.listAudit());
  assert.equal(Buffer.compare(restored.snapshot(), bytes), 0, 'restore then snapshot gives the same bytes');
  // An audit cursor keeps numbering after a restore.
  restored.apply({ type: 'audit', record: { at: T0 + 40, actor: 'bob', method: 'DELETE', path: '/v1/jobs/a', target: 'a' }, at: T0 + 40 }, 10);
  const page = restored.listAudit({ limit: 1 });
  assert.deepEqual(page.ok && page.items.map((e) => e.seq), [3]);

  // Without tokens or audit entries the tail has no `access` key: the bytes of older builds.
  const plain = replay([{ type: 'putJob', id: 'a', spec: spec('a'), at: T0 + 10 }]);
  const tail = tailOf(plain.snapshot());
  assert.equal('access' in tail, false);
  assert.equal(JobTable.restore(plain.snapshot()).tokens.hasTokens, false);
});

test('a snapshot whose access key is broken is refused as INVALID_SNAPSHOT', () => {
  const table = replay([createAdmin]);
  const bytes = table.snapshot();
  const packr = new Packr({ useRecords: false, mapsAsObjects: true, moreTypes: false, bundleStrings: false });
  const { start, tail } = tailWithOffset(bytes);
  const broken = packr.pack({ ...tail, access: { tokens: { v: 1, tokens: [['bootstrap', 'x', 'viewer', ADMIN_HASH, T0, null, 'system']] }, audit: { v: 1, nextSeq: 1, rows: [] } } });
  const spliced = Buffer.concat([bytes.subarray(0, start), broken]);
  assert.throws(() => JobTable.restore(spliced), (error: unknown) => error instanceof Error && /INVALID_SNAPSHOT|admin token/.test(`${String(Reflect.get(error, 'code'))} ${error.message}`));
});

/** The msgpack tail map of a version-2 snapshot (the last value in the bytes) and where it starts. */
function tailWithOffset(bytes: Uint8Array): { start: number; tail: Record<string, unknown> } {
  const packr = new Packr({ useRecords: false, mapsAsObjects: true, moreTypes: false, bundleStrings: false });
  // The tail is the last msgpack value: try each start from the end until one decodes to a map with runs.
  for (let start = bytes.length - 1; start >= 0; start--) {
    try {
      const value: unknown = packr.unpack(bytes.subarray(start));
      if (typeof value === 'object' && value !== null && !Array.isArray(value) && 'runs' in value && 'keys' in value) {
        return { start, tail: Object.fromEntries(Object.entries(value)) };
      }
    } catch {
      // not a value boundary
    }
  }
  throw new Error('no tail found');
}

function tailOf(bytes: Uint8Array): Record<string, unknown> {
  return tailWithOffset(bytes).tail;
}

test('a manual run records who triggered it, through the codec and a snapshot; other runs record no one', () => {
  const table = replay([
    { type: 'putJob', id: 'a', spec: spec('a', { schedule: '@manual' }), at: T0 },
    { type: 'fire', at: T0 + 1, fires: [scheduled('a', 'r-manual', T0 + 1, { trigger: 'manual', triggeredBy: 'deployer' }), scheduled('a', 'r-other', T0 + 2, { trigger: 'manual' })] },
  ]);
  assert.equal(table.getRun('r-manual')?.triggeredBy, 'deployer');
  assert.equal(table.getRun('r-other')?.triggeredBy, undefined);
  const restored = JobTable.restore(table.snapshot());
  assert.equal(restored.getRun('r-manual')?.triggeredBy, 'deployer');
  assert.equal(restored.getRun('r-other')?.triggeredBy, undefined);
  assert.equal(Buffer.compare(restored.snapshot(), table.snapshot()), 0);
  assert.match(commandProblem({ type: 'fire', at: T0, fires: [scheduled('a', 'r9', T0, { triggeredBy: '' })] }) ?? '', /triggeredBy/);
});

test('a job shows who changed it last (updatedBy), through putJobs, pause and a snapshot; a change without an audit record names no one', () => {
  const table = replay([
    { type: 'putJob', id: 'a', spec: spec('a'), at: T0, audit: audit('/v1/jobs/a', 'a') },
    { type: 'putJobs', jobs: [{ id: 'b', spec: spec('b') }, { id: 'c', spec: spec('c') }], at: T0 + 1, audit: { ...audit('/v1/apply', null, T0 + 1), actor: 'ci', method: 'POST' } },
    { type: 'pauseJob', id: 'b', at: T0 + 2, audit: { ...audit('/v1/jobs/b/pause', 'b', T0 + 2), actor: 'bob', method: 'POST' } },
    { type: 'putJob', id: 'c', spec: spec('c', { description: 'changed' }), at: T0 + 3 },
  ]);
  assert.deepEqual(['a', 'b', 'c'].map((id) => table.getJob(id)?.updatedBy), ['alice', 'bob', undefined]);
  const restored = JobTable.restore(table.snapshot());
  assert.deepEqual(['a', 'b', 'c'].map((id) => restored.getJob(id)?.updatedBy), ['alice', 'bob', undefined]);
  assert.equal(Buffer.compare(restored.snapshot(), table.snapshot()), 0);
});
