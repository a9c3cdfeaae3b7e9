import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { chimeVersion, isPackaged, readBundledAsset } from './packaged.js';

// From source only; scripts/package-smoke.mjs checks the packaged side through --version.
test('from source, the version is package.json’s and nothing is packaged', () => {
  const { version } = JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { version: string };
  assert.equal(isPackaged, false);
  assert.equal(chimeVersion(), version);
});

test('a static file name that climbs out of the static folder finds nothing', () => {
  // dist/console/../../package.json exists: only the refusal keeps it out.
  for (const name of ['../../package.json', 'a/../../../package.json', '/etc/passwd', 'x\0y']) assert.equal(readBundledAsset(name), undefined, name);
  assert.equal(readBundledAsset('no-such-file.html'), undefined);
});
