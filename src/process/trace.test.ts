// The write tracer: JSON lines with stage, index and time, flushed whole; bounded in memory.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { WriteTracer } from './trace.js';

function markOf(line: string): { trace: string; index: number; atMs: number } {
  const value: unknown = JSON.parse(line);
  assert.ok(typeof value === 'object' && value !== null && 'trace' in value && 'index' in value && 'atMs' in value);
  const { trace, index, atMs } = value;
  assert.ok(typeof trace === 'string' && typeof index === 'number' && typeof atMs === 'number');
  return { trace, index, atMs };
}

test('marks come out as one JSON line each, in order, on flush; nothing is written before', () => {
  const written: string[] = [];
  const tracer = new WriteTracer((text) => written.push(text));
  tracer.mark('received');
  tracer.mark('proposed', 7);
  assert.deepEqual(written, []);
  tracer.stop();
  const lines = written.join('').trimEnd().split('\n').map(markOf);
  assert.deepEqual(lines.map((l) => [l.trace, l.index]), [['received', -1], ['proposed', 7]]);
  assert.ok((lines[1]?.atMs ?? 0) >= (lines[0]?.atMs ?? Infinity));
  assert.ok(Math.abs((lines[0]?.atMs ?? 0) - Date.now()) < 60_000, 'times are wall-clock based');
});

test('beyond the buffer limit marks are dropped and the next flush says how many', () => {
  const written: string[] = [];
  const tracer = new WriteTracer((text) => written.push(text));
  for (let i = 0; i < 100_005; i++) tracer.mark('applied', i);
  tracer.stop();
  const lines = written.join('').trimEnd().split('\n');
  assert.equal(lines.length, 100_001);
  const last = markOf(lines.at(-1) ?? '');
  assert.deepEqual([last.trace, last.index], ['dropped', 5]);
});
