import { test } from 'node:test';
import assert from 'node:assert/strict';
import { LIMITS_DEFAULT } from './limits.js';
import { StreamMasker, maskText } from './output-mask.js';
import { shellRequest } from '../../test/support/executor-runs.js';
import { validateExecuteRequest } from './validate.js';

/** Feeds `chunks` through one masker and returns everything it let out. */
function maskChunks(values: readonly string[], chunks: readonly string[]): string {
  const masker = new StreamMasker(values);
  const out: Buffer[] = chunks.map((chunk) => masker.push(Buffer.from(chunk)));
  out.push(masker.flush());
  return Buffer.concat(out).toString();
}

test('mask: a value split across two chunks at every possible point is masked', () => {
  const text = 'before s3cr3t-value after s3cr3t-value!';
  const expected = 'before *** after ***!';
  assert.equal(maskText(text, ['s3cr3t-value']), expected);
  for (let cut = 0; cut <= text.length; cut++) {
    assert.equal(maskChunks(['s3cr3t-value'], [text.slice(0, cut), text.slice(cut)]), expected, `cut at ${cut}`);
  }
  // One byte per chunk: the carry alone bridges every boundary.
  assert.equal(maskChunks(['s3cr3t-value'], [...text]), expected);
});

test('mask: leftmost match first, the longest at one position, no overlaps — the same whole or chunked', () => {
  const values = ['abcdef', 'abc', 'cdefgh', 'zz'];
  const text = 'xxabcdefghzzz abcx cdefgh';
  const whole = maskText(text, values);
  assert.equal(whole, 'xx***gh***z ***x ***');
  for (let a = 0; a <= text.length; a++) {
    for (let b = a; b <= text.length; b += 3) {
      assert.equal(maskChunks(values, [text.slice(0, a), text.slice(a, b), text.slice(b)]), whole, `cuts ${a}/${b}`);
    }
  }
});

test('mask: a short value inside a longer one\'s reach is decided only when the longer one is', () => {
  const values = ['ab', 'abcdefgh'];
  const text = 'zab abcdefgh abX abcdefg ab';
  const whole = maskText(text, values);
  assert.equal(whole, 'z*** *** ***X ***cdefg ***');
  for (let cut = 0; cut <= text.length; cut++) assert.equal(maskChunks(values, [text.slice(0, cut), text.slice(cut)]), whole, `cut at ${cut}`);
});

test('mask: only a chunk that ends in the beginning of a value is held back, and never more than longest − 1 bytes', () => {
  const masker = new StreamMasker(['0123456789']);
  assert.equal(masker.push(Buffer.from('x'.repeat(100))).length, 100, 'nothing that could begin a value: passed on whole');
  assert.equal(masker.push(Buffer.from('x'.repeat(95) + '0abcd')).length, 100, 'a first byte alone is no reason to wait');
  assert.equal(masker.push(Buffer.from('x'.repeat(100) + '01234')).length, 100);
  assert.equal(masker.carryBytes, 5);
  assert.equal(masker.flush().toString(), '01234', 'the end of the stream releases it');
  // Many near-misses: the checks are bounded, holding back from there is still exact.
  const nearMisses = new StreamMasker(['aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaab']);
  const out = nearMisses.push(Buffer.from('a'.repeat(200)));
  assert.ok(out.length >= 200 - 49 && nearMisses.carryBytes <= 49);
  assert.equal(Buffer.concat([out, nearMisses.push(Buffer.from('b!')), nearMisses.flush()]).toString(), 'a'.repeat(151) + '***!');
  const none = new StreamMasker([]);
  const chunk = Buffer.from('untouched');
  assert.equal(none.push(chunk), chunk, 'no values: the very same buffer');
  // Values are matched as UTF-8 bytes, so a cut inside a multi-byte character is no obstacle.
  const bytes = Buffer.from('my pässwörd!');
  for (let cut = 0; cut <= bytes.length; cut++) {
    const masker = new StreamMasker(['pässwörd']);
    const out = Buffer.concat([masker.push(bytes.subarray(0, cut)), masker.push(bytes.subarray(cut)), masker.flush()]);
    assert.equal(out.toString(), 'my ***!', `cut at byte ${cut}`);
  }
});

test('validation: maskValues must be non-empty strings within the limits; absent or empty means none', () => {
  const ok = validateExecuteRequest({ ...shellRequest('true'), maskValues: ['secret-1', 'secret-2'] }, LIMITS_DEFAULT, 0);
  assert.ok(ok.ok);
  assert.deepEqual(ok.value.maskValues, ['secret-1', 'secret-2']);
  const none = validateExecuteRequest({ ...shellRequest('true'), maskValues: [] }, LIMITS_DEFAULT, 0);
  assert.ok(none.ok && none.value.maskValues === undefined);
  const cases: [unknown, RegExp][] = [
    ['secret', /maskValues must be an array/],
    [[''], /maskValues\[0\] must not be empty/],
    [[1], /maskValues\[0\] must be a string/],
    [['x'.repeat(LIMITS_DEFAULT.maskValueBytesMax + 1)], /maskValues\[0\] exceeds/],
    [Array.from({ length: LIMITS_DEFAULT.maskValuesMax + 1 }, (_, i) => `value-${i}`), /more than 64 entries/],
  ];
  for (const [maskValues, reason] of cases) {
    const result = validateExecuteRequest({ ...shellRequest('true'), maskValues }, LIMITS_DEFAULT, 0);
    assert.equal(result.ok, false);
    if (!result.ok) assert.match(result.error, reason);
  }
});
