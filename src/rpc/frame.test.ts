import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Buffer } from 'node:buffer';
import { encodeFrame, FrameDecoder } from './frame.js';

test('frames split at every byte boundary come out whole and in order', () => {
  const payloads = [Buffer.from('a'), Buffer.alloc(300, 7), Buffer.from('hello world')];
  const stream = Buffer.concat(payloads.map((p) => encodeFrame(p)));
  for (let step = 1; step <= 7; step++) {
    const decoder = new FrameDecoder(1024);
    const out: Buffer[] = [];
    for (let i = 0; i < stream.length; i += step) {
      const result = decoder.push(Buffer.from(stream.subarray(i, i + step)));
      assert.ok(result.ok);
      out.push(...result.frames);
    }
    assert.deepEqual(out, payloads);
    assert.equal(decoder.buffered, 0);
  }
});

test('several frames in one chunk are all returned', () => {
  const decoder = new FrameDecoder(16);
  const result = decoder.push(Buffer.concat([encodeFrame(Buffer.from('x')), encodeFrame(Buffer.from('yz'))]));
  assert.deepEqual(result, { ok: true, frames: [Buffer.from('x'), Buffer.from('yz')] });
});

test('a length above the limit or of zero fails the decoder for good', () => {
  const over = new FrameDecoder(16);
  const header = Buffer.alloc(4);
  header.writeUInt32BE(17);
  const result = over.push(header);
  assert.equal(result.ok, false);
  assert.equal(over.buffered, 0);
  assert.equal(over.push(encodeFrame(Buffer.from('ok'))).ok, false);
  assert.equal(new FrameDecoder(16).push(Buffer.alloc(4)).ok, false);
});

test('a frame exactly at the limit is accepted', () => {
  const decoder = new FrameDecoder(16);
  const result = decoder.push(encodeFrame(Buffer.alloc(16, 1)));
  assert.ok(result.ok);
  assert.equal(result.frames[0]?.length, 16);
});
