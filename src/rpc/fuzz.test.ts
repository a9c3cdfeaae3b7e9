import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Buffer } from 'node:buffer';
import { connect, type Socket } from 'node:net';
import { decodePayload, encodePayload } from './codec.js';
import { validateEnvelope, type Envelope } from './envelope.js';
import { encodeFrame, FrameDecoder } from './frame.js';
import { newChallenge, parseReply, proof, PROTOCOL_VERSION } from './handshake.js';
import { TcpTransport } from './tcp-transport.js';
import { seededInt as createRandom } from '../../test/support/prng.js';
import { sampleMessages } from '../../test/support/rpc-messages.js';
import { waitFor } from '../../test/support/wait-for.js';

const KEY = new TextEncoder().encode('fuzz-key-fuzz-key-fuzz-key-fuzz!');
const CLUSTER = 'fuzz';
const FRAME_MAX = 64 << 10;
const CASES = 300;
type Random = (n: number) => number;

function randomBytes(random: Random, length: number): Buffer {
  return Buffer.from(Array.from({ length }, () => random(256)));
}

function helloFrame(node = 'x1', overrides: Record<string, unknown> = {}): Buffer {
  return encodeFrame(encodePayload({ hs: 'hello', version: PROTOCOL_VERSION, cluster: CLUSTER, node, challenge: newChallenge(), ...overrides }));
}

/** Bytes that are wrong before or during the handshake. */
function preHandshakeCase(random: Random): Buffer {
  switch (random(6)) {
    case 0:
      return randomBytes(random, 1 + random(200));
    case 1: {
      const frame = helloFrame();
      return frame.subarray(0, random(frame.length));
    }
    case 2: {
      const header = Buffer.alloc(4);
      header.writeUInt32BE(FRAME_MAX + 1 + random(2 ** 31));
      return Buffer.concat([header, randomBytes(random, random(50))]);
    }
    case 3:
      return encodeFrame(randomBytes(random, 1 + random(100)));
    case 4: {
      const bad = [{ version: 99 }, { cluster: 'other' }, { node: 'BAD ID' }, { challenge: new Uint8Array(3) }, { hs: 'finish' }, { node: 'listener' }];
      return helloFrame('x2', bad[random(bad.length)]);
    }
    default:
      return encodeFrame(encodePayload([1, 'two', { three: null }]));
  }
}

/** A frame that must be refused on an open connection from node `peer`. */
function malformedEnvelope(random: Random, peer: string): Buffer {
  const messages = sampleMessages(peer, 'listener');
  const message = { ...messages[random(messages.length)] } as Record<string, unknown>;
  switch (random(6)) {
    case 0: {
      const fields = Object.keys(message);
      const field = fields[random(fields.length)] as string;
      const wrong: unknown[] = [null, -1, 1.5, {}, 2 ** 60];
      message[field] = wrong[random(wrong.length)];
      return encodeFrame(encodePayload({ channel: 'raft', message }));
    }
    case 1:
      return encodeFrame(encodePayload({ channel: 'raft', message: { ...message, from: 'impostor' } }));
    case 2:
      return encodeFrame(encodePayload({ channel: 'raft', message: { ...message, to: 'someone-else' } }));
    case 3:
      return encodeFrame(randomBytes(random, 1 + random(64)));
    case 4:
      return helloFrame(peer);
    default:
      return encodeFrame(encodePayload({ channel: 'gossip', body: 1 }));
  }
}

/** Resolves when the server closes the socket; rejects past the deadline. */
function closed(socket: Socket, deadlineMs = 3_000): Promise<void> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('the listener kept a bad connection open')), deadlineMs);
    socket.on('error', () => undefined);
    socket.on('close', () => {
      clearTimeout(timer);
      resolve();
    });
    socket.resume();
  });
}

async function rawConnect(port: number): Promise<Socket> {
  const socket = connect({ host: '127.0.0.1', port });
  await new Promise<void>((resolve, reject) => socket.once('connect', resolve).once('error', reject));
  return socket;
}

/**
 * Performs a correct dialer handshake as node `peer`, then sends `bad`. Each case uses its
 * own id: the listener keeps one connection per peer and would replace the others.
 */
async function handshakeThenSend(port: number, peer: string, bad: Buffer): Promise<void> {
  const socket = await rawConnect(port);
  const challenge = newChallenge();
  const decoder = new FrameDecoder(FRAME_MAX);
  const reply = new Promise<unknown>((resolve) => {
    socket.on('data', (chunk: Buffer) => {
      const frame = decoder.push(chunk).frames[0];
      if (frame !== undefined) resolve((decodePayload(frame) as { value: unknown }).value);
    });
  });
  socket.write(encodeFrame(encodePayload({ hs: 'hello', version: PROTOCOL_VERSION, cluster: CLUSTER, node: peer, challenge })));
  const parsed = parseReply(await reply, CLUSTER);
  assert.ok(parsed.ok);
  socket.write(encodeFrame(encodePayload({ hs: 'finish', proof: proof(KEY, 'dialer', CLUSTER, peer, 'listener', parsed.value.challenge, challenge) })));
  socket.write(bad);
  await closed(socket);
}

test(`${CASES} malformed connections each get closed, and the listener keeps serving`, async (t) => {
  const received: Envelope[] = [];
  const listener = new TcpTransport({ id: 'listener', clusterId: CLUSTER, key: KEY, frameBytesMax: FRAME_MAX, handshakeTimeoutMs: 150, onMessage: (_, envelope) => received.push(envelope) });
  const { port } = await listener.listen('127.0.0.1', 0);
  const good = new TcpTransport({ id: 'good', clusterId: CLUSTER, key: KEY, onMessage: () => undefined });
  t.after(() => Promise.all([listener.close(), good.close()]));
  const random = createRandom(4242);
  const batch = 30;
  for (let start = 0; start < CASES; start += batch) {
    const cases: Promise<void>[] = [];
    for (let i = start; i < Math.min(CASES, start + batch); i++) {
      if (random(3) === 0) cases.push(handshakeThenSend(port, `x${i}`, malformedEnvelope(random, `x${i}`)));
      else {
        const bytes = preHandshakeCase(random);
        cases.push(rawConnect(port).then((socket) => {
          socket.write(bytes);
          return closed(socket);
        }));
      }
    }
    await Promise.all(cases);
  }
  assert.equal(received.length, 0, 'nothing malformed reached the handler');
  assert.equal(listener.metrics.handshakeRejections + listener.metrics.protocolErrors, CASES, 'each case was refused exactly once');
  assert.ok(listener.metrics.protocolErrors > 0 && listener.metrics.handshakeRejections > 0);
  good.setPeers(new Map([['listener', `127.0.0.1:${port}`]]));
  const message = sampleMessages('good', 'listener')[0];
  assert.ok(message !== undefined);
  good.send('listener', { channel: 'raft', message });
  await waitFor('the good peer is served', () => received.length === 1);
  assert.deepEqual(received[0], { channel: 'raft', message });
});

test('the mutated envelopes used above really are invalid', () => {
  const random = createRandom(7);
  for (let i = 0; i < 200; i++) {
    const frame = malformedEnvelope(random, 'x3');
    const decoded = decodePayload(frame.subarray(4));
    if (!decoded.ok) continue;
    const checked = validateEnvelope(decoded.value);
    const impersonates = checked.ok && checked.value.channel === 'raft' && (checked.value.message.from !== 'x3' || checked.value.message.to !== 'listener');
    const handshakeFrame = typeof decoded.value === 'object' && decoded.value !== null && 'hs' in decoded.value;
    assert.ok(!checked.ok || impersonates || handshakeFrame, JSON.stringify(decoded.value).slice(0, 200));
  }
});
