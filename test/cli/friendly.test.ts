// The CLI as a new user meets it: every failure is one line on stderr with the right exit
// code (2 bad usage, 1 failed operation), naming what is wrong and, where it can, what to do.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { ProcessCluster } from '../support/process-cluster.js';
import { MAIN, cli, startCluster } from '../api/support.js';
import { waitFor } from '../support/wait-for.js';

let cluster: ProcessCluster;
let close: () => Promise<void>;
let server: string;
let notChime: Server;
let notChimeUrl: string;

before(async () => {
  ({ cluster, close } = await startCluster());
  server = `http://${cluster.nodes.get(await cluster.waitForLeader())?.http}`;
  notChime = createServer((_req, res) => res.writeHead(404, { 'content-type': 'text/html' }).end('<h1>nope</h1>'));
  await new Promise<void>((resolve) => notChime.listen(0, '127.0.0.1', resolve));
  const address = notChime.address();
  assert.ok(address !== null && typeof address === 'object');
  notChimeUrl = `http://127.0.0.1:${(address satisfies AddressInfo).port}`;
});
after(async () => {
  await close();
  await new Promise((resolve) => notChime.close(resolve));
});

async function expectLine(args: string[], code: number, pattern: RegExp): Promise<void> {
  const result = await cli(...args);
  assert.equal(result.code, code, `chime ${args.join(' ')}: ${result.stdout}${result.stderr}`);
  const lines = result.stderr.trim().split('\n');
  assert.equal(lines.length, 1, `one line: ${result.stderr}`);
  assert.match(lines[0] ?? '', pattern);
}

test('unknown commands, subcommands and flags get one line with a suggestion, exit 2', async () => {
  await expectLine(['jbo', 'list'], 2, /^chime: unknown command "jbo" \(did you mean job\?\)/);
  await expectLine(['job', 'lsit', '--server', server], 2, /^chime: job: unknown subcommand lsit \(did you mean list\?\)$/);
  await expectLine(['job', 'list', '--serer', server], 2, /^chime: job: unknown flag --serer \(did you mean --server\?\)/);
  await expectLine(['job', 'get', 'x', '--server'], 2, /^chime: job: --server needs a value$/);
  await expectLine(['run', 'list', 'x', '-o', 'xml', '--server', server], 2, /^chime: -o: expected one of table, wide, json, yaml, got "xml"$/);
  await expectLine(['help', 'jbo'], 2, /^chime: help: no command "jbo" \(did you mean job\?\)$/);
});

test('a server that is not chime, or not there, is named plainly; exit 1', async () => {
  await expectLine(['job', 'list', '--server', notChimeUrl], 1, new RegExp(`^chime: ${notChimeUrl} answered 404 with text/html: not a chime agent's answer \\(is --server right\\?\\)$`));
  const closed = createServer();
  await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
  const address = closed.address();
  assert.ok(address !== null && typeof address === 'object');
  await new Promise((resolve) => closed.close(resolve));
  await expectLine(['job', 'list', '--server', `http://127.0.0.1:${address.port}`], 1, /^chime: cannot reach http:\/\/127\.0\.0\.1:\d+: connection refused \(is a chime agent listening there\?\)$/);
});

test('a validation error names each field once', async () => {
  const result = await cli('job', 'put', 'bad', '--schedule', 'every tuesday', '--shell', 'true', '--server', server);
  assert.equal(result.code, 1);
  assert.equal(result.stderr.trim().split('\n').length, 1);
  assert.equal(result.stderr.match(/schedule:/g)?.length, 1, result.stderr);
});

test('--version, help COMMAND and completion answer on stdout', async () => {
  const version = await cli('--version');
  assert.match(version.stdout, /^chime \d+\.\d+\.\d+ \(node v/);
  assert.match((await cli('help', 'job')).stdout, /^usage: chime job/);
  const bash = await cli('completion', 'bash');
  assert.match(bash.stdout, /complete -F _chime chime/);
  assert.match((await cli('completion', 'zsh')).stdout, /compdef _chime chime/);
  await expectLine(['completion', 'fish'], 2, /^chime: completion: expected bash or zsh, got "fish"$/);
});

test('a data directory another agent holds is named plainly: one line, exit 1', async () => {
  const node = cluster.nodes.get('n1');
  assert.ok(node !== undefined);
  const second = spawn(process.execPath, [MAIN, 'agent', '--id', 'n1', '--data', node.dataDir, '--rpc', '127.0.0.1:0', '--http', '127.0.0.1:0'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  second.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const code = await new Promise<number | null>((resolve) => second.on('exit', resolve));
  assert.equal(code, 1);
  assert.match(stderr.trim(), /^chime: the data directory .*n1 is in use by another process \(is another chime agent running on it\?\)$/);
});

// Last: it leaves one node alone.
test('a read without a leader answers 503 and the CLI suggests --stale', async () => {
  const leader = await cluster.waitForLeader();
  const survivor = ['n1', 'n2', 'n3'].find((id) => id !== leader) ?? 'n1';
  for (const id of ['n1', 'n2', 'n3']) if (id !== survivor) await cluster.signal(id, 'SIGKILL');
  const url = `http://${cluster.nodes.get(survivor)?.http}`;
  await waitFor('the survivor to lose its leader', async () => (await cli('cluster', 'status', '--server', url)).stdout.includes('leader none'), 20_000);
  await expectLine(['job', 'list', '--server', url], 1, /^chime: 503 .*; to read this node's local state anyway, add --stale$/);
    assert.equal((await cli('job', 'list', '--stale', '--server', url)).code, 0);
});
