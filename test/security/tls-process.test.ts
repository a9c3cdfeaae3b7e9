// TLS end to end on real agents: the API and console over HTTPS only (--tls-cert/--tls-key),
// peers over mutual TLS (--peer-cert/--peer-key/--peer-ca), writes forwarded from a follower
// over HTTPS trusting --peer-ca, a worker joining over https trusting --peer-ca, the CLI speaking https with --ca, certificates reloaded on
// SIGHUP. The PKI is made with openssl at test time (test/support/certs.ts).
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { copyFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { connect } from 'node:tls';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { issueCert, makeTestPki, type TestPki } from '../support/certs.js';
import { ProcessCluster, waitFor } from '../support/process-cluster.js';

const MAIN = resolve(fileURLToPath(import.meta.url), '..', '..', '..', 'src', 'cli', 'main.js');
const ADMIN = `chime_${'tLsTeSt9'.repeat(5)}abc`;

let dir = '';
let pki: TestPki;
let cluster: ProcessCluster;
let leader = '';
let follower = '';

function cli(args: readonly string[], env: Record<string, string> = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((done) => execFile(process.execPath, [MAIN, ...args], { cwd: dir, timeout: 20_000, env: { ...process.env, CHIME_TOKEN: ADMIN, CHIME_SERVER: '', CHIME_CA: '', ...env } }, (error, stdout, stderr) => {
    done({ code: error === null ? 0 : typeof error.code === 'number' ? error.code : -1, stdout, stderr });
  }));
}

function pem(id: string): { certPath: string; keyPath: string } {
  const node = pki.nodes[id];
  assert.ok(node);
  return node;
}

/** The SHA-256 fingerprint of the certificate a node's API shows now. */
function servedFingerprint(address: string): Promise<string> {
  const at = address.lastIndexOf(':');
  return new Promise((done, fail) => {
    const socket = connect({ host: address.slice(0, at), port: Number(address.slice(at + 1)), ca: pki.ca.cert }, () => {
      done(socket.getPeerCertificate().fingerprint256);
      socket.end();
    });
    socket.on('error', fail);
  });
}

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'chime-tls-'));
  pki = makeTestPki(dir, ['n1', 'n2', 'n3', 'n4']);
  const tokenFile = join(dir, 'admin.token');
  writeFileSync(tokenFile, `${ADMIN}\n`, { mode: 0o600 });
  cluster = await ProcessCluster.found(3, { dir, token: ADMIN, httpsCa: pki.ca.cert, args: ['--admin-token-file', tokenFile, '--peer-ca', pki.ca.certPath] }, (id) => [
    '--tls-cert', pem(id).certPath, '--tls-key', pem(id).keyPath, '--peer-cert', pem(id).certPath, '--peer-key', pem(id).keyPath,
  ]);
  leader = await cluster.waitForLeader();
  follower = [...cluster.nodes.keys()].find((id) => id !== leader) ?? '';
});

after(async () => {
  await cluster.stopAll();
  rmSync(dir, { recursive: true, force: true });
});

test('the CLI writes through a follower over https with --ca (the follower forwards over TLS); without --ca it names the problem', async () => {
  const server = cluster.url(follower, '');
  assert.match(server, /^https:\/\//);
  const put = await cli(['job', 'put', 'over-tls', '--schedule', '@manual', '--shell', 'true', '--server', server, '--ca', pki.ca.certPath]);
  assert.equal(put.code, 0, put.stderr);
  const got = await cli(['job', 'get', 'over-tls', '-o', 'json', '--server', cluster.url(leader, '')], { CHIME_CA: pki.ca.certPath });
  assert.equal(got.code, 0, got.stderr);
  assert.equal(JSON.parse(got.stdout).id, 'over-tls');
  const untrusted = await cli(['job', 'list', '--server', server]);
  assert.equal(untrusted.code, 1);
  assert.match(untrusted.stderr, /certificate is not trusted .*--ca/);
});

test('a plain-HTTP request to the HTTPS port gets no HTTP answer', async () => {
  const node = cluster.nodes.get(leader);
  assert.ok(node);
  const at = node.http.lastIndexOf(':');
  const outcome = await new Promise<string>((done) => {
    const req = request({ host: node.http.slice(0, at), port: Number(node.http.slice(at + 1)), path: '/v1/health', timeout: 5000 }, (res) => done(`answered ${res.statusCode}`));
    req.on('error', (error) => done(`error ${error.message}`));
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.end();
  });
  assert.match(outcome, /^error /);
  assert.equal((await cluster.call(leader, 'GET', '/v1/health')).status, 200, 'and the node serves on');
});

test('SIGHUP reloads the API certificate for new connections', async () => {
  const node = cluster.nodes.get(follower);
  assert.ok(node);
  const before = await servedFingerprint(node.http);
  const fresh = issueCert(join(dir, 'chime-test'), pki.ca, `${follower}-renewed`, { nodeIds: [follower] });
  copyFileSync(fresh.certPath, pem(follower).certPath);
  copyFileSync(fresh.keyPath, pem(follower).keyPath);
  await cluster.signal(follower, 'SIGHUP');
  await waitFor('the renewed certificate to be served', async () => (await servedFingerprint(node.http)) !== before);
  // Peers still talk to it (the peer certificate was reloaded too) and it still serves.
  const put = await cluster.call(leader, 'PUT', '/v1/jobs/after-reload', { schedule: '@manual', executor: { type: 'shell', command: 'true' } });
  assert.ok(put.status === 201 || put.status === 200, put.text);
  assert.equal((await cluster.call(follower, 'GET', '/v1/jobs/after-reload')).status, 200);
});

test('a worker joins over https, checking the cluster\'s certificate against --peer-ca (not the system trust store)', async () => {
  const tokenFile = join(dir, 'admin.token');
  await cluster.launch('n4', '127.0.0.1:0', '127.0.0.1:0', [
    '--join', cluster.url(leader, ''), '--role', 'worker', '--token-file', tokenFile,
    '--tls-cert', pem('n4').certPath, '--tls-key', pem('n4').keyPath, '--peer-cert', pem('n4').certPath, '--peer-key', pem('n4').keyPath,
  ]);
  const member = await waitFor('n4 to be a member', async () => {
    const view = (await cluster.call(leader, 'GET', '/v1/cluster')).body as { members: { id: string; voter: boolean; role: string }[] };
    return view.members.find((m) => m.id === 'n4');
  }, 15_000);
  assert.equal(member.voter, false);
  assert.equal(member.role, 'worker');
});
