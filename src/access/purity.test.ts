// The pieces the state machine embeds must be deterministic, and the request check must not
// read a clock of its own: time always comes from the caller.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', '..', 'src', 'access');

function code(file: string): string {
  return readFileSync(join(here, file), 'utf8').replace(/\/\/.*$/gm, '').replace(/\/\*[\s\S]*?\*\//g, '');
}

const CLOCKS = [/\bDate\b/, /\bperformance\./, /\bprocess\./, /\bsetTimeout\b/, /\bsetInterval\b/];

test('what the state machine embeds reads no clock, no randomness and no crypto', () => {
  const offenders: string[] = [];
  for (const file of ['token-registry.ts', 'token-commands.ts', 'audit-log.ts', 'roles.ts', 'routes.ts', 'codes.ts', 'assert.ts', '../guards/index.ts']) {
    const text = code(file);
    for (const pattern of [...CLOCKS, /\bMath\.random\b/, /node:crypto/, /\brandom/]) if (pattern.test(text)) offenders.push(`${file}: ${pattern.source}`);
  }
  assert.deepEqual(offenders, []);
});

test('the request check reads no clock: nowMs comes from the caller', () => {
  const offenders: string[] = [];
  for (const file of ['authorize.ts', 'origin.ts', 'forward.ts', 'secrets.ts']) {
    for (const pattern of CLOCKS) if (pattern.test(code(file))) offenders.push(`${file}: ${pattern.source}`);
  }
  assert.deepEqual(offenders, []);
});
