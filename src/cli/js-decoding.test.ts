import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const MODULE = fileURLToPath(new URL('./js-decoding.js', import.meta.url));
const MAIN = fileURLToPath(new URL('./main.js', import.meta.url));

/** Whether msgpackr, loaded after `preload` (if any) in a fresh process, uses its native string extractor. */
function nativeIn(preload: string | null, env: Record<string, string | undefined>): boolean {
  const imports = `${preload === null ? '' : `await import(${JSON.stringify(preload)});`} const m = await import('msgpackr'); process.stdout.write(String(m.isNativeAccelerationEnabled));`;
  const childEnv: NodeJS.ProcessEnv = { ...process.env, ...env };
  for (const [key, value] of Object.entries(env)) if (value === undefined) delete childEnv[key];
  const out = execFileSync(process.execPath, ['--input-type=module', '-e', imports], { env: childEnv, cwd: fileURLToPath(new URL('../../..', import.meta.url)) });
  return out.toString() === 'true';
}

test('loaded before msgpackr, js-decoding turns its native string extractor off', () => {
  assert.equal(nativeIn(MODULE, { MSGPACKR_NATIVE_ACCELERATION_DISABLED: undefined }), false);
});

test('an operator who sets the variable keeps their setting', (t) => {
  // Without the add-on installed there is nothing to turn on: the check would prove nothing.
  if (!nativeIn(null, { MSGPACKR_NATIVE_ACCELERATION_DISABLED: undefined })) {
    t.skip('msgpackr-extract is not installed here');
    return;
  }
  assert.equal(nativeIn(MODULE, { MSGPACKR_NATIVE_ACCELERATION_DISABLED: 'false' }), true);
});

test('the chime program imports js-decoding before any module of its own', () => {
  const imports = [...readFileSync(MAIN, 'utf8').matchAll(/^import\s+(?:[^'"]*from\s+)?['"]([^'"]+)['"]/gm)].map((m) => m[1]);
  assert.deepEqual(imports.slice(0, 2), ['./jit-warmup.js', './js-decoding.js'], 'jit-warmup imports only node:v8, so js-decoding still runs before msgpackr loads');
});
