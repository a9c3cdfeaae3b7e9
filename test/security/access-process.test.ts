// Access control end to end on real agents (api.md, "Access control and transport security"):
// a cluster founded with --admin-token-file, tokens made and revoked with the CLI, each rule
// checked through the leader and through a follower.
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { raw } from '../api/support.js';
import { ProcessCluster, waitFor } from '../support/process-cluster.js';

const MAIN = resolve(fileURLToPath(import.meta.url), '..', '..', '..', 'src', 'cli', 'main.js');
const ADMIN = `chime_${'a1B2c3D4'.repeat(5)}xyz`;

let dir = '';
let cluster: ProcessCluster;
let leader = '';
let follower = '';

function cli(args: readonly string[], env: Record<string, string> = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((done) => execFile(process.execPath, [MAIN, ...args], { cwd: dir, timeout: 20_000, env: { ...process.env, CHIME_TOKEN: '', CHIME_SERVER: '', ...env } }, (error, stdout, stderr) => {
    done({ code: error === null ? 0 : typeof error.code === 'number' ? error.code : -1, stdout, stderr });
  }));
}

function http(id: string): string {
  const node = cluster.nodes.get(id);
  assert.ok(node);
  return node.http;
}

const json = { 'content-type': 'application/json' };
const bearer = (token: string) => ({ authorization: `Bearer ${token}` });
const spec = JSON.stringify({ schedule: '@manual', executor: { type: 'shell', command: 'true' } });

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'chime-security-'));
  const tokenFile = join(dir, 'admin.token');
  writeFileSync(tokenFile, `${ADMIN}\n`, { mode: 0o600 });
  cluster = await ProcessCluster.found(3, { dir, token: ADMIN, args: ['--admin-token-file', tokenFile] });
  leader = await cluster.waitForLeader();
  follower = [...cluster.nodes.keys()].find((id) => id !== leader) ?? '';
});

after(async () => {
  await cluster.stopAll();
  rmSync(dir, { recursive: true, force: true });
});

async function createToken(role: string, name: string): Promise<{ id: string; secret: string }> {
  const made = await cli(['token', 'create', '--role', role, '--name', name, '--server', cluster.url(follower, ''), '--token', ADMIN]);
  assert.equal(made.code, 0, made.stderr);
  const secret = made.stdout.trim();
  assert.match(secret, /^chime_[A-Za-z0-9_-]{43}$/, 'create prints the secret alone on stdout');
  const id = /token ([0-9a-f]{16}) /.exec(made.stderr)?.[1];
  assert.ok(id !== undefined, made.stderr);
  return { id, secret };
}

test('without a token every /v1 route but health and ready is 401 with WWW-Authenticate, on leader and follower', async () => {
  for (const via of [leader, follower]) {
    const answer = await raw(http(via), 'GET', '/v1/jobs');
    assert.equal(answer.status, 401);
    assert.match(String(answer.headers['www-authenticate']), /^Bearer realm="chime"/);
    assert.equal((answer.body as { code: string }).code, 'TOKEN_MISSING');
    const write = await raw(http(via), 'PUT', '/v1/jobs/x', json, spec);
    assert.equal(write.status, 401);
    assert.equal((await raw(http(via), 'GET', '/v1/health')).status, 200);
    assert.equal((await raw(http(via), 'GET', '/')).status, 200, 'the console loads without a token');
    assert.equal((await raw(http(via), 'GET', '/metrics')).status, 401);
    const wrong = await raw(http(via), 'GET', '/v1/jobs', bearer('chime_not-a-token-this-cluster-knows-xxxxxxxxxx'));
    assert.equal(wrong.status, 401);
    assert.equal((wrong.body as { code: string }).code, 'TOKEN_INVALID');
  }
  const metrics = await cluster.call(leader, 'GET', '/metrics');
  assert.match(metrics.text, /chime_http_access_refused_total\{code="TOKEN_MISSING"\} [1-9]/);
  assert.match(metrics.text, /chime_http_access_refused_total\{code="TOKEN_INVALID"\} [1-9]/);
  assert.ok(!metrics.text.includes('chime_not-a-token'), 'no metric holds a presented secret');
  const cliWithout = await cli(['job', 'list', '--server', cluster.url(leader, '')]);
  assert.equal(cliWithout.code, 1);
  assert.match(cliWithout.stderr, /401 .*--token/);
});

test('a viewer reads but cannot write (403) and an operator can put a job, through the follower; audit names them', async () => {
  const viewer = await createToken('viewer', 'ci-viewer');
  const operator = await createToken('operator', 'deployer');
  for (const via of [follower, leader]) {
    // A token just created on another node may not be applied here yet: the node catches up before refusing.
    const read = await raw(http(via), 'GET', '/v1/jobs', bearer(viewer.secret));
    assert.equal(read.status, 200, read.text);
    const write = await raw(http(via), 'PUT', `/v1/jobs/by-viewer-${via}`, { ...json, ...bearer(viewer.secret) }, spec);
    assert.equal(write.status, 403, write.text);
    assert.equal((write.body as { code: string }).code, 'FORBIDDEN');
    const tokens = await raw(http(via), 'GET', '/v1/tokens', bearer(operator.secret));
    assert.equal(tokens.status, 403, 'an operator manages no tokens');
  }
  const put = await raw(http(follower), 'PUT', '/v1/jobs/deploy', { ...json, ...bearer(operator.secret) }, spec);
  assert.equal(put.status, 201, put.text);
  assert.equal((put.body as { updatedBy: string }).updatedBy, 'deployer', 'a job shows who changed it last');
  const run = await raw(http(follower), 'POST', '/v1/jobs/deploy/run?wait=30s', { ...json, ...bearer(operator.secret) }, '{}', 40_000);
  assert.equal(run.status, 200, run.text);
  assert.equal((run.body as { triggeredBy: string }).triggeredBy, 'deployer', 'a manual run shows who triggered it');
  assert.equal((await raw(http(follower), 'POST', '/v1/jobs/deploy/run', { ...json, ...bearer(viewer.secret) }, '{}')).status, 403);
  const viaCli = await cli(['job', 'get', 'deploy', '-o', 'json', '--server', cluster.url(leader, '')], { CHIME_TOKEN: viewer.secret });
  assert.equal(viaCli.code, 0, viaCli.stderr);
  const audit = await raw(http(follower), 'GET', '/v1/audit', bearer(ADMIN));
  assert.equal(audit.status, 200, audit.text);
  const items = (audit.body as { items: { actor: string; method: string; path: string; target: string | null }[] }).items;
  const entry = items.find((e) => e.path === '/v1/jobs/deploy');
  assert.deepEqual([entry?.actor, entry?.method, entry?.target], ['deployer', 'PUT', 'deploy']);
  assert.ok(items.some((e) => e.actor === 'deployer' && e.path === '/v1/jobs/deploy/run' && e.target?.startsWith('deploy/')), 'the manual run is audited');
  assert.ok(items.some((e) => e.actor === 'bootstrap' && e.path === '/v1/tokens' && e.target === viewer.id), 'token creation is audited');
  assert.ok(!items.some((e) => e.path === `/v1/jobs/by-viewer-${follower}`), 'a refused write is not audited');
  assert.equal((await raw(http(leader), 'GET', '/v1/audit', bearer(viewer.secret))).status, 403, 'audit is admin only');
  const listed = await cli(['token', 'list', '-o', 'json', '--server', cluster.url(leader, ''), '--token', ADMIN]);
  assert.equal(listed.code, 0, listed.stderr);
  assert.ok(!listed.stdout.includes(viewer.secret) && !listed.stdout.includes('hash'), 'a list shows no secret and no hash');
  assert.ok(listed.stdout.includes('"bootstrap"'));
});

test('a revoked token is refused on every node once the revoke is committed', async () => {
  const doomed = await createToken('operator', 'doomed');
  for (const id of cluster.nodes.keys()) {
    await waitFor(`${id} to know the new token`, async () => (await raw(http(id), 'GET', '/v1/jobs', bearer(doomed.secret))).status === 200);
  }
  const revoked = await cli(['token', 'revoke', doomed.id, '--server', cluster.url(follower, ''), '--token', ADMIN]);
  assert.equal(revoked.code, 0, revoked.stderr);
  // The leader committed and applied the revoke before answering; writes always meet the leader's check.
  assert.equal((await raw(http(leader), 'GET', '/v1/jobs', bearer(doomed.secret))).status, 401);
  for (const id of cluster.nodes.keys()) {
    assert.equal((await raw(http(id), 'PUT', '/v1/jobs/after-revoke', { ...json, ...bearer(doomed.secret) }, spec)).status, 401, `${id}: write`);
    await waitFor(`${id} to refuse the revoked token`, async () => (await raw(http(id), 'GET', '/v1/jobs', bearer(doomed.secret))).status === 401);
  }
  const last = await raw(http(leader), 'DELETE', '/v1/tokens/bootstrap', bearer(ADMIN));
  assert.equal(last.status, 409, 'the last admin token without expiry cannot be revoked');
});

test('a write with a foreign Origin is 403 even with an admin token; a read is not refused for its Origin', async () => {
  for (const via of [leader, follower]) {
    const foreign = await raw(http(via), 'PUT', '/v1/jobs/csrf', { ...json, ...bearer(ADMIN), origin: 'https://evil.example' }, spec);
    assert.equal(foreign.status, 403);
    assert.equal((foreign.body as { code: string }).code, 'FOREIGN_ORIGIN');
    const own = await raw(http(via), 'PUT', '/v1/jobs/same-origin', { ...json, ...bearer(ADMIN), origin: `http://${http(via)}` }, spec);
    assert.ok(own.status === 200 || own.status === 201, own.text);
    assert.equal((await raw(http(via), 'GET', '/v1/jobs', { ...bearer(ADMIN), origin: 'https://evil.example' })).status, 200);
  }
});

test('a node on a non-loopback address without any token refuses to start: exit 2, one line', async () => {
  const keyFile = join(dir, 'cluster.key');
  writeFileSync(keyFile, 'a-cluster-key-for-this-test-only\n');
  const started = await cli(['agent', '--id', 'lonely', '--data', join(dir, 'lonely'), '--rpc', '127.0.0.1:0', '--http', '0.0.0.0:0', '--peers', 'lonely=127.0.0.1:0', '--cluster-key-file', keyFile]);
  assert.equal(started.code, 2, started.stderr);
  const lines = started.stderr.trim().split('\n');
  assert.equal(lines.length, 1, started.stderr);
  assert.match(lines[0] ?? '', /^chime: --http 0\.0\.0\.0:0 is not a loopback address and the cluster has no API token: give --admin-token-file/);
  const short = join(dir, 'short.token');
  writeFileSync(short, 'too-short\n');
  const bad = await cli(['agent', '--id', 'lonely', '--data', join(dir, 'lonely2'), '--rpc', '127.0.0.1:0', '--http', '127.0.0.1:0', '--peers', 'lonely=127.0.0.1:0', '--admin-token-file', short]);
  assert.equal(bad.code, 2);
  assert.ok(!bad.stderr.includes('too-short'), 'the token never appears in a message');
});

test('a node with a history but no token, restarted on a non-loopback address, exits 2 with one line once replayed; its data stays usable', async () => {
  const solo = await ProcessCluster.found(1, { dir: join(dir, 'history') });
  try {
    assert.equal((await solo.call('n1', 'PUT', '/v1/jobs/kept', JSON.parse(spec))).status, 201);
    await solo.signal('n1', 'SIGTERM');
    const node = solo.nodes.get('n1');
    assert.ok(node);
    const args = ['agent', '--id', 'n1', '--data', node.dataDir, '--rpc', node.rpc, '--peers', `n1=${node.rpc}`];
    const keyFile = join(dir, 'history.key');
    writeFileSync(keyFile, 'a-cluster-key-for-this-test-only\n');
    const refused = await cli([...args, '--http', '0.0.0.0:0', '--cluster-key-file', keyFile]);
    assert.equal(refused.code, 2, refused.stderr);
    // Everything else on stderr is the agent's JSON log; the refusal is the one plain line, and the last.
    const plain = refused.stderr.trim().split('\n').filter((line) => !line.startsWith('{'));
    assert.deepEqual(plain.length, 1, refused.stderr);
    assert.match(plain[0] ?? '', /^chime: --http 0\.0\.0\.0:0 is not a loopback address and the cluster has no API token: give --admin-token-file FILE/);
    assert.equal(refused.stderr.trim().split('\n').at(-1), plain[0]);
    // On loopback the same data serves again, the job still there.
    await solo.restart('n1');
    await solo.waitForLeader();
    assert.equal((await solo.call('n1', 'GET', '/v1/jobs/kept')).status, 200);
  } finally {
    await solo.stopAll();
  }
});

test('a node joins a cluster with tokens with --token-file; then it enforces the same tokens', async () => {
  const tokenFile = join(dir, 'admin.token');
  await cluster.launch('n4', '127.0.0.1:0', '127.0.0.1:0', ['--join', cluster.url(leader, ''), '--token-file', tokenFile]);
  await waitFor('n4 to become a voter', async () => ((await cluster.call(leader, 'GET', '/v1/cluster')).body as { members: { id: string; voter: boolean }[] }).members.some((m) => m.id === 'n4' && m.voter), 20_000);
  assert.equal((await raw(http('n4'), 'GET', '/v1/jobs')).status, 401);
  await waitFor('n4 to accept the admin token', async () => (await raw(http('n4'), 'GET', '/v1/jobs', bearer(ADMIN))).status === 200, 10_000);
  const audit = await cluster.call(leader, 'GET', '/v1/audit');
  assert.ok((audit.body as { items: { path: string; target: string | null; actor: string }[] }).items.some((e) => e.path === '/v1/cluster/members' && e.target === 'n4' && e.actor === 'bootstrap'), 'the member change is audited');
});

test('an oversized write through the CLI says "request too large (limit 1 MiB)", through a follower too', async () => {
  const file = join(dir, 'big.json');
  writeFileSync(file, JSON.stringify({ schedule: '@manual', executor: { type: 'shell', command: 'true' }, description: 'd'.repeat(8 << 20) }));
  for (const via of [follower, leader]) {
    const put = await cli(['job', 'put', 'big', '--file', file, '--server', cluster.url(via, ''), '--token', ADMIN]);
    assert.equal(put.code, 1, put.stderr);
    assert.equal(put.stderr.trim(), 'chime: request too large (limit 1 MiB)');
  }
});
