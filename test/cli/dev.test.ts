// chime dev supervises its nodes: a killed node is started again, a line marks every change,
// the CLI run in its directory finds the cluster without --server, and a second dev on the
// same directory is refused. Ctrl-C (SIGINT) stops everything cleanly.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync, statSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MAIN } from '../api/support.js';
import { httpJson } from '../../src/cli/http-client.js';
import { waitFor } from '../support/wait-for.js';

/** Whether every port can be bound on loopback right now. */
async function portsFree(ports: readonly number[]): Promise<boolean> {
  const servers = await Promise.all(ports.map((port) => new Promise<ReturnType<typeof createServer> | null>((done) => {
    const server = createServer();
    server.once('error', () => done(null));
    server.listen(port, '127.0.0.1', () => done(server));
  })));
  await Promise.all(servers.map((s) => (s === null ? null : new Promise((done) => s.close(done)))));
  return servers.every((s) => s !== null);
}

/** A base port whose dev ports (base+1.., base-999..) are free, probed from a seed. */
async function freeBase(nodes: number): Promise<number> {
  for (let base = 20_000 + (process.pid % 200) * 100; base < 60_000; base += 1013) {
    const ports = Array.from({ length: nodes }, (_, i) => [base + i + 1, base - 1000 + i + 1]).flat();
    if (await portsFree(ports)) return base;
  }
  throw new Error('no free base port');
}

/** Pids of the processes whose parent is `pid` (dev's agents). */
function childrenOf(pid: number): number[] {
  return readdirSync('/proc').filter((name) => /^\d+$/.test(name)).map(Number).filter((p) => {
    try {
      return readFileSync(`/proc/${p}/stat`, 'utf8').split(') ')[1]?.split(' ')[1] === String(pid);
    } catch {
      return false;
    }
  });
}

function cliIn(cwd: string, ...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((done) => execFile(process.execPath, [MAIN, ...args], { cwd, timeout: 20_000 }, (error, stdout, stderr) => done({ code: error === null ? 0 : typeof error.code === 'number' ? error.code : -1, stdout, stderr })));
}

test('chime dev restarts a node that died, the CLI finds the cluster, a second dev is refused, SIGINT stops it', { timeout: 120_000 }, async () => {
  const cwd = mkdtempSync(join(tmpdir(), 'chime-dev-'));
  const base = await freeBase(3);
  const dev = spawn(process.execPath, [MAIN, 'dev', '--base-port', String(base)], { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  dev.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
  dev.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const exited = new Promise<number | null>((done) => dev.on('exit', (code) => done(code)));
  try {
    await waitFor('three nodes up', () => (output.match(/^n\d {2}up: /gm) ?? []).length === 3, 30_000);
    await waitFor('a leader, found from the dev directory without --server', async () => (await cliIn(cwd, 'cluster', 'status')).stdout.match(/leader n\d/) !== null, 30_000);
    // dev made an admin token the CLI used above; without it the API answers 401.
    const token = readFileSync(join(cwd, '.chime-dev', 'admin.token'), 'utf8').trim();
    assert.match(token, /^chime_[A-Za-z0-9_-]{43}$/);
    assert.equal(statSync(join(cwd, '.chime-dev', 'admin.token')).mode & 0o077, 0, 'the token file is its owner\'s only');
    const anonymous = await httpJson('GET', `http://127.0.0.1:${base + 1}/v1/jobs`, undefined, 5000, { token: null, ca: null });
    assert.equal(anonymous.status, 401);
    const pid = dev.pid ?? 0;
    const agents = childrenOf(pid);
    assert.equal(agents.length, 3, `dev's agents: ${agents.join(',')}`);
    process.kill(agents[0] ?? 0, 'SIGKILL');
    await waitFor('a down line', () => /^n\d {2}down \(exit SIGKILL\); restarting in 1 s$/m.test(output), 15_000);
    await waitFor('the node up again', () => (output.match(/^n\d {2}up: /gm) ?? []).length === 4, 30_000);
    const second = await cliIn(cwd, 'dev', '--base-port', String(base));
    assert.equal(second.code, 1);
    assert.match(second.stderr.trim(), new RegExp(`^chime: another chime dev \\(pid ${pid}\\) is running on .*\\.chime-dev; stop it first, or use --dir$`));
  } finally {
    dev.kill('SIGINT');
  }
  assert.equal(await exited, 0, output.slice(-2000));
  rmSync(cwd, { recursive: true, force: true });
});
