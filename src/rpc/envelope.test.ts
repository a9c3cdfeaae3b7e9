import { test } from 'node:test';
import assert from 'node:assert/strict';
import { decodePayload, encodePayload } from './codec.js';
import { validateEnvelope } from './envelope.js';
import { sampleMessages } from '../../test/support/rpc-messages.js';
import { isLoopbackAddress, parseHostPort } from './address.js';
import { backoffDelayMs } from './backoff.js';

function roundTrip(value: unknown): unknown {
  const decoded = decodePayload(encodePayload(value));
  assert.ok(decoded.ok);
  return decoded.value;
}

test('every Raft message type survives encoding and validation unchanged', () => {
  for (const message of sampleMessages('n1', 'n2')) {
    const checked = validateEnvelope(roundTrip({ channel: 'raft', message }));
    assert.ok(checked.ok, `${message.type}: ${checked.ok ? '' : checked.reason}`);
    assert.deepEqual(checked.value, { channel: 'raft', message });
  }
});

test('app channels pass their body through; unknown channels are refused', () => {
  assert.deepEqual(validateEnvelope(roundTrip({ channel: 'exec', body: { runId: 'r1' } })), { ok: true, value: { channel: 'exec', body: { runId: 'r1' } } });
  assert.equal(validateEnvelope(roundTrip({ channel: 'nope', body: 1 })).ok, false);
  assert.equal(validateEnvelope(roundTrip({ channel: 'exec' })).ok, false);
});

test('malformed Raft messages are refused with a reason', () => {
  const base = sampleMessages('n1', 'n2');
  const app = base[0] as unknown as Record<string, unknown>;
  const snap = base[6] as unknown as Record<string, unknown>;
  const bad: unknown[] = [
    null,
    42,
    [],
    { channel: 'raft' },
    { channel: 'raft', message: { ...app, type: 'bogus' } },
    { channel: 'raft', message: { ...app, term: -1 } },
    { channel: 'raft', message: { ...app, term: 1.5 } },
    { channel: 'raft', message: { ...app, term: 2 ** 60 } },
    { channel: 'raft', message: { ...app, from: 'Not An Id' } },
    { channel: 'raft', message: { ...app, to: 7 } },
    { channel: 'raft', message: { ...app, entries: 'x' } },
    { channel: 'raft', message: { ...app, entries: [{ index: 1, term: 1, kind: 'weird', data: new Uint8Array(0) }] } },
    { channel: 'raft', message: { ...app, entries: [{ index: 1, term: 1, kind: 'normal', data: 'text' }] } },
    { channel: 'raft', message: { ...app, commit: undefined } },
    { channel: 'raft', message: { ...base[2], pre: 'yes' } },
    { channel: 'raft', message: { ...snap, meta: { index: 1, term: 1, conf: { voters: [1], learners: [] } } } },
    { channel: 'raft', message: { ...snap, data: [1, 2] } },
    { channel: 'raft', message: { ...base[9], context: 'x'.repeat(5000) } },
  ];
  for (const value of bad) {
    const checked = validateEnvelope(roundTrip(value));
    assert.equal(checked.ok, false, JSON.stringify(value)?.slice(0, 80));
  }
});

test('validated messages carry only the known fields', () => {
  const extra = { ...sampleMessages('n1', 'n2')[4], sneaky: 'x' };
  const checked = validateEnvelope(roundTrip({ channel: 'raft', message: extra }));
  assert.ok(checked.ok && checked.value.channel === 'raft');
  assert.equal('sneaky' in checked.value.message, false);
});

test('loopback addresses are told apart from the rest', () => {
  for (const host of ['127.0.0.1', '127.1.2.3', '::1', '[::1]', 'localhost', '::ffff:127.0.0.1']) assert.equal(isLoopbackAddress(host), true, host);
  for (const host of ['0.0.0.0', '::', '10.0.0.1', '192.168.1.1', 'example.com', '128.0.0.1', '']) assert.equal(isLoopbackAddress(host), false, host);
});

test('host:port parsing accepts names, IPv4 and bracketed IPv6 only', () => {
  assert.deepEqual(parseHostPort('127.0.0.1:8401'), { host: '127.0.0.1', port: 8401 });
  assert.deepEqual(parseHostPort('[::1]:9'), { host: '::1', port: 9 });
  assert.deepEqual(parseHostPort('node-a:1'), { host: 'node-a', port: 1 });
  for (const text of ['127.0.0.1', ':80', 'a:0', 'a:70000', '::1:80', 'a:b']) assert.equal(parseHostPort(text), null, text);
});

test('backoff doubles up to the cap and jitters within [half, full]', () => {
  const policy = { baseMs: 10, maxMs: 100 };
  assert.equal(backoffDelayMs(policy, 0, 0), 5);
  assert.equal(backoffDelayMs(policy, 0, 0.999), 10);
  assert.equal(backoffDelayMs(policy, 3, 0), 40);
  assert.equal(backoffDelayMs(policy, 20, 0.999), 100);
  assert.equal(backoffDelayMs(policy, 20, 0), 50);
});
