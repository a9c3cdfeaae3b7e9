#!/usr/bin/env node
// `npm run package:smoke`: shows that dist/chime runs with nothing else installed. The
// executable is copied into an empty folder and run there with an emptied environment: PATH
// holds only that folder (so there is no node), no node_modules is above it and the addon
// cache starts empty. Then a user's first minutes: --version, `chime dev`, a leader, the
// console page, a shell job run to the end, Ctrl-C. Every wait polls against a deadline and
// every step is timed.
import { execFile, spawn, spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const EXE = join(ROOT, 'dist', 'chime');
const DEADLINE_MS = 30_000;

const dir = mkdtempSync(join(tmpdir(), 'chime-smoke-'));
const bin = join(dir, 'bin');
const env = { PATH: bin, XDG_CACHE_HOME: join(dir, 'cache') };
const timings = [];
let dev; // the one long-lived process this script starts
let devOutput = '';
const running = () => dev !== undefined && dev.exitCode === null && dev.signalCode === null;

async function timed(what, step) {
  const started = performance.now();
  const result = await step();
  timings.push(`  ${what.padEnd(40)} ${((performance.now() - started) / 1000).toFixed(2)} s`);
  return result;
}

/** One chime command in the bare environment; resolves with its exit code and output. */
function chime(args) {
  return new Promise((done) => {
    execFile(join(bin, 'chime'), args, { cwd: dir, env, timeout: DEADLINE_MS }, (error, stdout, stderr) => done({ code: error === null ? 0 : error.code, stdout, stderr }));
  });
}

function check(ok, message) {
  if (!ok) throw new Error(message);
}

/** A base port for `chime dev` whose six ports (API P+1..3, peers P-999..997) are free now. */
async function freeBasePort() {
  const free = (port) => new Promise((done) => {
    const server = createServer().once('error', () => done(false)).listen(port, '127.0.0.1', () => server.close(() => done(true)));
  });
  for (let attempt = 0; attempt < 20; attempt++) {
    const base = 20_000 + Math.floor(Math.random() * 40_000);
    const ports = [1, 2, 3, -999, -998, -997].map((offset) => base + offset);
    if ((await Promise.all(ports.map(free))).every(Boolean)) return base;
  }
  throw new Error('no free ports for chime dev');
}

/** Polls until `get` returns a value, or fails naming what it waited for. */
async function waitFor(what, get) {
  const deadline = Date.now() + DEADLINE_MS;
  for (;;) {
    const value = await get();
    if (value !== undefined) return value;
    check(Date.now() < deadline, `no ${what} within ${DEADLINE_MS / 1000} s`);
    check(dev === undefined || running(), `chime dev exited while waiting for ${what}`);
    await sleep(100);
  }
}

function setUp() {
  check(existsSync(EXE), 'dist/chime is missing: run npm run package first');
  mkdirSync(bin);
  copyFileSync(EXE, join(bin, 'chime'));
  for (let up = dir; up !== dirname(up); up = dirname(up)) check(!existsSync(join(up, 'node_modules')), `${up}/node_modules would be reachable`);
  check(spawnSync('/bin/sh', ['-c', 'command -v node'], { env }).status !== 0, 'node is on the bare PATH');
}

async function startDev() {
  const base = await freeBasePort();
  // Its own process group, as a shell gives a job, so that a SIGINT to the group is a Ctrl-C.
  dev = spawn(join(bin, 'chime'), ['dev', '--base-port', String(base)], { cwd: dir, env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
  dev.stdout.setEncoding('utf8').on('data', (text) => { devOutput += text; });
  dev.stderr.setEncoding('utf8').on('data', (text) => { devOutput += text; });
  const urls = await timed('dev: 3 APIs up', () => waitFor('API URLs from chime dev', () => {
    const found = [...devOutput.matchAll(/ api (http:\/\/\S+)\/v1\/cluster/g)].map((m) => m[1]);
    return found.length === 3 ? found : undefined;
  }));
  const leader = await timed('dev: leader elected', () => waitFor('leader', async () => {
    const status = await chime(['cluster', 'status', '--server', urls[0], '--json']);
    return status.code === 0 ? JSON.parse(status.stdout).leader ?? undefined : undefined;
  }));
  return { server: urls[0], leader };
}

async function stopDev() {
  const exited = new Promise((done) => dev.once('exit', (code, signal) => done({ code, signal })));
  process.kill(-dev.pid, 'SIGINT');
  const { code, signal } = await timed('dev: SIGINT to exit', () => Promise.race([exited, sleep(DEADLINE_MS, undefined, { ref: false }).then(() => ({ code: 'none', signal: 'deadline' }))]));
  check(code === 0, `chime dev ended with code ${code} signal ${signal} after SIGINT`);
  dev = undefined;
}

async function smoke() {
  const started = performance.now();
  setUp();
  const { version } = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8'));
  for (const which of ['first start, addons written', 'second start']) {
    const shown = await timed(`--version, ${which}`, () => chime(['--version']));
    check(shown.code === 0 && shown.stdout.startsWith(`chime ${version} (node v`) && shown.stdout.includes('single executable'), `--version printed ${JSON.stringify(shown.stdout + shown.stderr)}`);
  }
  const { server, leader } = await startDev();
  const page = await timed('console page', () => fetch(`${server}/`));
  check(page.status === 200 && page.headers.get('content-type').startsWith('text/html'), `GET ${server}/ answered ${page.status}`);
  const put = await timed('job put', () => chime(['job', 'put', 'hello', '--schedule', '@manual', '--shell', 'echo hi', '--server', server]));
  check(put.code === 0, `job put failed: ${put.stderr.trim()}`);
  const run = await timed('job run --wait', () => chime(['job', 'run', 'hello', '--wait', '--timeout', '30s', '--server', server]));
  check(run.code === 0 && /\bhi\b/.test(run.stdout), `job run printed ${JSON.stringify((run.stdout + run.stderr).slice(0, 500))}`);
  await stopDev();
  console.log(`${timings.join('\n')}\npackage-smoke: passed in ${((performance.now() - started) / 1000).toFixed(1)} s (leader ${leader})`);
}

try {
  await smoke();
  rmSync(dir, { recursive: true, force: true });
} catch (error) {
  // dev stops its agents on SIGTERM; the SIGKILL is for a dev that hangs. Nothing else is
  // signalled, and the folder stays for a look.
  if (running()) {
    const exited = new Promise((done) => dev.once('exit', done));
    dev.kill('SIGTERM');
    if (await Promise.race([exited.then(() => true), sleep(DEADLINE_MS, false, { ref: false })]) === false) dev.kill('SIGKILL');
  }
  console.error(`package-smoke: FAILED: ${error.message}\n${devOutput.split('\n').slice(-20).join('\n')}\npackage-smoke: files left in ${dir}`);
  process.exitCode = 1;
}
