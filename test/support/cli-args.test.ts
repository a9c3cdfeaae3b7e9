import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { usageOf } from './cli-args.js';

const SIM_CLI = fileURLToPath(new URL('../sim/cli.js', import.meta.url));

test('the usage line is made from the options, defaults shown as values', () => {
  assert.equal(
    usageOf('npm run x --', { seeds: { type: 'string', default: '1' }, seed: { type: 'string' }, tag: { type: 'string', multiple: true }, verbose: { type: 'boolean', default: false } }),
    'usage: npm run x -- [--seeds 1] [--seed VALUE] [--tag VALUE ...] [--verbose]',
  );
});

test('a test program answers --help with its usage, and a bad option with one line and exit code 2', () => {
  const help = spawnSync(process.execPath, [SIM_CLI, '--help'], { encoding: 'utf8' });
  assert.equal(help.status, 0);
  assert.match(help.stdout, /^usage: npm run sim -- .*\[--time-ms 10000\]/);

  const bad = spawnSync(process.execPath, [SIM_CLI, '--seeds', '1', '--no-such-flag'], { encoding: 'utf8' });
  assert.equal(bad.status, 2);
  assert.equal(bad.stdout, '');
  const lines = bad.stderr.trim().split('\n');
  assert.equal(lines.length, 1, bad.stderr);
  assert.match(lines[0] ?? '', /--no-such-flag.*usage: npm run sim --/);
});
