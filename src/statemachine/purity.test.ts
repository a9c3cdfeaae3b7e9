// The state machine must never read a clock or randomness: time arrives inside commands.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', '..', 'src', 'statemachine');

test('src/statemachine reads no clock and no randomness', () => {
  const offenders: string[] = [];
  const banned = [/\bDate\.now\b/, /\bnew Date\(\s*\)/, /\bMath\.random\b/, /\bperformance\./, /\bprocess\./, /\bsetTimeout\b/, /\bsetInterval\b/, /\bcrypto\./];
  const files = readdirSync(here).filter((f) => f.endsWith('.ts') && !f.endsWith('.test.ts') && f !== 'test-helpers.ts');
  assert.ok(files.length > 10, `found the sources in ${here}`);
  for (const file of files) {
    const text = readFileSync(join(here, file), 'utf8').replace(/\/\/.*$/gm, '').replace(/\/\*[\s\S]*?\*\//g, '');
    for (const pattern of banned) if (pattern.test(text)) offenders.push(`${file}: ${pattern.source}`);
  }
  assert.deepEqual(offenders, []);
});
