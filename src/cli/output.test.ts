import { test } from 'node:test';
import assert from 'node:assert/strict';
import { formatDuration, formatTime, outputOptions, table, toYaml } from './output.js';

test('YAML is the same document as the JSON: nested maps and lists, strings quoted when they would read as something else', () => {
  const doc = { id: 'nightly', enabled: true, retry: { max: 2, backoffMs: 1000 }, after: [], labels: {}, tags: ['a', 'b'], items: [{ id: 'x', n: 1 }, { id: 'y', n: null }], odd: ['yes', '12', 'a: b', '', ' lead', 'x #y', 'line\nbreak'] };
  assert.equal(toYaml(doc), [
    'id: nightly',
    'enabled: true',
    'retry:',
    '  max: 2',
    '  backoffMs: 1000',
    'after: []',
    'labels: {}',
    'tags:',
    '  - a',
    '  - b',
    'items:',
    '  - id: x',
    '    n: 1',
    '  - id: y',
    '    n: null',
    'odd:',
    '  - "yes"',
    '  - "12"',
    '  - "a: b"',
    '  - ""',
    '  - " lead"',
    '  - "x #y"',
    '  - "line\\nbreak"',
    '',
  ].join('\n'));
});

test('times print in local time with the zone, or in UTC with --utc; durations in the largest sensible units', () => {
  assert.equal(formatTime('2026-11-24T01:30:00.000Z', true), '2026-11-24T01:30:00Z');
  assert.match(formatTime('2026-11-24T01:30:00.000Z', false), /^2026-11-2[34] \d\d:\d\d:00[+-]\d\d:\d\d$/);
  assert.equal(formatTime(null, false), '-');
  assert.deepEqual([850, 12_340, 245_000, 7_380_000, 273_600_000].map(formatDuration), ['850ms', '12.3s', '4m05s', '2h03m', '3d04h']);
});

test('-o picks the format; --json is -o json; colour only on a terminal and never with NO_COLOR', () => {
  assert.equal(outputOptions({ output: 'yaml' }, { isTTY: false }).format, 'yaml');
  assert.equal(outputOptions({ json: true }, { isTTY: false }).format, 'json');
  assert.throws(() => outputOptions({ output: 'xml' }, { isTTY: false }), /-o: expected one of table, wide, json, yaml/);
  assert.equal(outputOptions({}, { isTTY: false }).colour, false);
  const saved = process.env['NO_COLOR'];
  process.env['NO_COLOR'] = '1';
  try {
    assert.equal(outputOptions({}, { isTTY: true }).colour, false);
  } finally {
    if (saved === undefined) delete process.env['NO_COLOR'];
    else process.env['NO_COLOR'] = saved;
  }
});

test('tables align on the visible width, colour escapes take no room', () => {
  assert.equal(table(['A', 'B'], [['\u001b[32mok\u001b[0m', 'x'], ['long', null]]), 'A     B\n\u001b[32mok\u001b[0m    x\nlong  -\n');
});
