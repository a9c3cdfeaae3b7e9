// Secrets end to end on real agents with --secrets-key-file (api.md, "Secrets"): every read
// (API through leader and follower, CLI) answers "***", "***" sent back keeps the stored
// value, the run gets the real value while its captured output shows "***", and no file
// under any data directory (log, WAL, snapshots, journals, output files) holds the value.
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { NotifyReceiver } from '../support/notify-receiver.js';
import { ProcessCluster, waitFor } from '../support/process-cluster.js';

const MAIN = resolve(fileURLToPath(import.meta.url), '..', '..', '..', 'src', 'cli', 'main.js');
const SECRET = 'hunter2-Quokka-7731-secret';
const NOTIFY_SECRET = 'webhook-Pangolin-4410-secret';
const NOTIFY_KEY = 'the notify key of the secrets test, 32+ bytes long';

let dir = '';
let cluster: ProcessCluster;
let leader = '';
let follower = '';
let receiver: NotifyReceiver;

function cli(args: readonly string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((done) => execFile(process.execPath, [MAIN, ...args], { cwd: dir, timeout: 20_000, env: { ...process.env, CHIME_TOKEN: '', CHIME_SERVER: '' } }, (error, stdout, stderr) => {
    done({ code: error === null ? 0 : typeof error.code === 'number' ? error.code : -1, stdout, stderr });
  }));
}

/** Every file under `root` whose bytes contain `needle` (as UTF-8). */
function filesHolding(root: string, needle: string): string[] {
  const found: string[] = [];
  const bytes = Buffer.from(needle, 'utf8');
  const walk = (path: string): void => {
    for (const name of readdirSync(path)) {
      const child = join(path, name);
      if (statSync(child).isDirectory()) walk(child);
      else if (readFileSync(child).includes(bytes)) found.push(child);
    }
  };
  walk(root);
  return found;
}

// The command checks the value by its hash: the secret itself must appear nowhere but in secretEnv.
const SECRET_SHA = createHash('sha256').update(SECRET).digest('hex');
const job = (secretEnv: Record<string, string>, command = `echo "key=$API_KEY"; test "$(printf %s "$API_KEY" | sha256sum | cut -c1-64)" = "${SECRET_SHA}" && echo same`) => ({
  schedule: '@manual', executor: { type: 'shell', command, secretEnv },
});

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'chime-secrets-'));
  const keyFile = join(dir, 'secrets.key');
  writeFileSync(keyFile, 'a shared secrets key file for this test, 32+ bytes');
  const notifyKeyFile = join(dir, 'notify.key');
  writeFileSync(notifyKeyFile, NOTIFY_KEY);
  receiver = new NotifyReceiver(Buffer.from(NOTIFY_KEY));
  await receiver.start();
  cluster = await ProcessCluster.found(3, { dir, args: ['--secrets-key-file', keyFile, '--notify-key-file', notifyKeyFile, '--snapshot-entries', '10'] });
  leader = await cluster.waitForLeader();
  follower = [...cluster.nodes.keys()].find((id) => id !== leader) ?? '';
});

after(async () => {
  await cluster.stopAll();
  await receiver.close();
  rmSync(dir, { recursive: true, force: true });
});

test('secret values are "***" in every answer, kept when "***" comes back, real in the run, masked in its output, sealed on disk', async () => {
  const put = await cluster.call(follower, 'PUT', '/v1/jobs/sec', job({ API_KEY: SECRET }));
  assert.equal(put.status, 201, put.text);
  assert.ok(!put.text.includes(SECRET), 'the write\'s answer shows no secret');
  for (const via of [leader, follower]) {
    const got = await cluster.call(via, 'GET', '/v1/jobs/sec');
    assert.deepEqual((got.body as { executor: { secretEnv: unknown } }).executor.secretEnv, { API_KEY: '***' });
    assert.ok(!(await cluster.call(via, 'GET', '/v1/jobs')).text.includes(SECRET));
  }
  const viaCli = await cli(['job', 'get', 'sec', '-o', 'json', '--server', cluster.url(leader, '')]);
  assert.equal(viaCli.code, 0, viaCli.stderr);
  assert.ok(viaCli.stdout.includes('"***"') && !viaCli.stdout.includes(SECRET));
  const exported = await cli(['export', '--server', cluster.url(leader, '')]);
  assert.ok(!exported.stdout.includes(SECRET));

  const run = await cluster.call(leader, 'POST', '/v1/jobs/sec/run?wait=30s', {}, 40_000);
  assert.equal(run.status, 200, run.text);
  const first = run.body as { status: string; executions: { output: string }[] };
  assert.equal(first.status, 'succeeded', run.text);
  const output = first.executions.map((e) => e.output).join('');
  assert.match(output, /key=\*\*\*/);
  assert.match(output, /same/, 'the run saw the real value');
  assert.ok(!run.text.includes(SECRET));

  // GET → edit → PUT: "***" keeps the stored value (the run still sees it).
  const edited = await cluster.call(follower, 'PUT', '/v1/jobs/sec', { ...job({ API_KEY: '***' }), description: 'edited' });
  assert.equal(edited.status, 200, edited.text);
  const again = await cluster.call(leader, 'POST', '/v1/jobs/sec/run?wait=30s', {}, 40_000);
  assert.match(JSON.stringify(again.body), /same/);

  const unknownKey = await cluster.call(leader, 'PUT', '/v1/jobs/sec', job({ API_KEY: '***', OTHER: '***' }));
  assert.equal(unknownKey.status, 400);
  assert.equal((unknownKey.body as { code: string }).code, 'INVALID_SECRET');
  assert.ok((unknownKey.body as { errors: { path: string }[] }).errors.some((e) => e.path === 'executor.secretEnv.OTHER'));
  const short = await cluster.call(leader, 'PUT', '/v1/jobs/short', job({ API_KEY: 'abc' }));
  assert.equal(short.status, 400);

  // Enough entries for every node to snapshot (--snapshot-entries 10), then look at every file.
  for (let i = 0; i < 12; i++) assert.ok((await cluster.call(leader, 'PUT', `/v1/jobs/filler-${i}`, { schedule: '@manual', executor: { type: 'shell', command: 'true' } })).status < 300);
  assert.ok(filesHolding(dir, 'enc:v1:').some((path) => !path.endsWith('.log')), 'the sealed value is in the data files the check reads');
  const holding = filesHolding(dir, SECRET).filter((path) => !path.endsWith('.log'));
  assert.deepEqual(holding, [], 'no data file holds the secret in plain form');
  // The agents' own logs (stderr captured by the test) must not hold it either.
  assert.deepEqual(filesHolding(dir, SECRET), []);
});

test('notify targets\' secret headers are sealed on disk like executor secrets, and sent opened', async () => {
  const hook = receiver.url('/secret-hook');
  const failing = (secretHeaders: Record<string, string>, description = '') => ({
    schedule: '@manual', description, executor: { type: 'shell', command: 'exit 3' }, notify: [{ on: ['failed'], url: hook, secretHeaders }],
  });
  const put = await cluster.call(follower, 'PUT', '/v1/jobs/hooked', failing({ 'X-Api-Key': NOTIFY_SECRET }));
  assert.equal(put.status, 201, put.text);
  assert.ok(!put.text.includes(NOTIFY_SECRET));
  const got = await cluster.call(follower, 'GET', '/v1/jobs/hooked');
  assert.deepEqual((got.body as { notify: { secretHeaders: unknown }[] }).notify[0]?.secretHeaders, { 'X-Api-Key': '***' });

  const sentWith = async (runId: string): Promise<unknown> => {
    const delivery = await waitFor(`the failed event of ${runId}`, () => receiver.deliveries.find((d) => d.body['runId'] === runId && d.body['event'] === 'failed'), 20_000);
    assert.ok(delivery.signatureOk);
    return delivery.headers['x-api-key'];
  };
  const first = await cluster.call(leader, 'POST', '/v1/jobs/hooked/run?wait=30s', {}, 40_000);
  assert.equal((first.body as { status: string }).status, 'failed', first.text);
  assert.equal(await sentWith((first.body as { runId: string }).runId), NOTIFY_SECRET, 'the webhook carries the opened value');

  // "***" sent back keeps the sealed value: the next event still carries the real header.
  const kept = await cluster.call(follower, 'PUT', '/v1/jobs/hooked', failing({ 'X-Api-Key': '***' }, 'edited'));
  assert.equal(kept.status, 200, kept.text);
  const second = await cluster.call(leader, 'POST', '/v1/jobs/hooked/run?wait=30s', {}, 40_000);
  assert.equal(await sentWith((second.body as { runId: string }).runId), NOTIFY_SECRET);

  // A value that looks sealed is the node's to make, never the caller's.
  const forged = await cluster.call(leader, 'PUT', '/v1/jobs/forged', failing({ 'X-Api-Key': 'enc:v1:AAAAAAAA:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA' }));
  assert.equal(forged.status, 400, forged.text);
  assert.equal((forged.body as { code: string }).code, 'INVALID_SECRET');
  assert.ok((forged.body as { errors: { path: string }[] }).errors.some((e) => e.path === 'notify[0].secretHeaders.X-Api-Key'), forged.text);

  for (let i = 0; i < 12; i++) assert.ok((await cluster.call(leader, 'PUT', `/v1/jobs/filler-n${i}`, { schedule: '@manual', executor: { type: 'shell', command: 'true' } })).status < 300);
  assert.deepEqual(filesHolding(dir, NOTIFY_SECRET), [], 'no data file or log holds the webhook secret in plain form');
});
