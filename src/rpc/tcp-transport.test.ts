import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server, type Socket } from 'node:net';
import type { NodeId } from '../raft/index.js';
import { TcpTransport, type TcpTransportOptions } from './tcp-transport.js';
import type { Envelope } from './envelope.js';
import { sampleMessages } from '../../test/support/rpc-messages.js';
import { waitFor } from '../../test/support/wait-for.js';

const KEY = new TextEncoder().encode('0123456789abcdef0123456789abcdef');

interface Node {
  readonly transport: TcpTransport;
  readonly received: { from: NodeId; envelope: Envelope }[];
  readonly unreachable: NodeId[];
  /** Peers whose connection to this node closed (onInboundLost). */
  readonly inboundLost: NodeId[];
  address: string;
}

async function startNode(id: NodeId, overrides: Partial<TcpTransportOptions> = {}, port = 0): Promise<Node> {
  const received: Node['received'] = [];
  const unreachable: NodeId[] = [];
  const inboundLost: NodeId[] = [];
  const transport = new TcpTransport({
    id,
    clusterId: 'test-cluster',
    key: KEY,
    onMessage: (from, envelope) => received.push({ from, envelope }),
    onUnreachable: (peer) => unreachable.push(peer),
    onInboundLost: (peer) => inboundLost.push(peer),
    backoff: { baseMs: 10, maxMs: 50 },
    ...overrides,
  });
  const bound = await transport.listen('127.0.0.1', port);
  return { transport, received, unreachable, inboundLost, address: `127.0.0.1:${bound.port}` };
}

/** A TCP server that accepts and never answers: a peer stuck before the handshake. */
async function startSilentServer(): Promise<{ port: number; close: () => Promise<void> }> {
  const sockets = new Set<Socket>();
  const server: Server = createServer((socket) => {
    sockets.add(socket);
    socket.resume();
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as { port: number }).port,
    close: async () => {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

function connectAll(nodes: Record<NodeId, Node>): void {
  const peers = new Map(Object.entries(nodes).map(([id, node]) => [id, node.address]));
  for (const node of Object.values(nodes)) node.transport.setPeers(peers);
}

/** Two transports that know each other, closed when the test ends. */
async function connectedPair(t: TestContext): Promise<{ a: Node; b: Node }> {
  const a = await startNode('a');
  const b = await startNode('b');
  t.after(() => Promise.all([a.transport.close(), b.transport.close()]));
  connectAll({ a, b });
  return { a, b };
}

test('two transports exchange every Raft message type, and a 1 MiB snapshot chunk intact', async (t) => {
  const { a, b } = await connectedPair(t);
  for (const message of sampleMessages('a', 'b')) assert.ok(a.transport.send('b', { channel: 'raft', message }));
  const chunk = Uint8Array.from({ length: 1 << 20 }, (_, i) => (i * 31 + 7) % 251);
  const snap = { type: 'snap' as const, from: 'b', to: 'a', term: 5, meta: { index: 100, term: 5, conf: { voters: ['a', 'b'], learners: [] } }, totalBytes: chunk.length, offset: 0, data: chunk, done: false };
  assert.ok(b.transport.send('a', { channel: 'raft', message: snap }));
  assert.ok(b.transport.send('a', { channel: 'exec', body: { runId: 'r-1', attempt: 2 } }));
  await waitFor('all messages', () => b.received.length === 11 && a.received.length === 2);
  assert.deepEqual(b.received.map((r) => r.envelope), sampleMessages('a', 'b').map((message) => ({ channel: 'raft', message })));
  assert.ok(b.received.every((r) => r.from === 'a'));
  assert.deepEqual(a.received[0], { from: 'b', envelope: { channel: 'raft', message: snap } });
  assert.deepEqual(a.received[1]?.envelope, { channel: 'exec', body: { runId: 'r-1', attempt: 2 } });
  assert.equal(a.transport.metrics.framesSent, 11);
  assert.equal(b.transport.metrics.framesReceived, 11);
  assert.ok(a.transport.metrics.bytesReceived > 1 << 20);
});

test('a peer with the wrong key, or the wrong cluster id, is refused on both sides', async (t) => {
  const a = await startNode('a');
  const wrongKey = await startNode('b', { key: new TextEncoder().encode('another-key-of-32-bytes-length!!') });
  const wrongCluster = await startNode('c', { clusterId: 'other' });
  t.after(() => Promise.all([a.transport.close(), wrongKey.transport.close(), wrongCluster.transport.close()]));
  connectAll({ a, b: wrongKey, c: wrongCluster });
  a.transport.send('b', { channel: 'raft', message: sampleMessages('a', 'b')[4] as never });
  wrongKey.transport.send('a', { channel: 'raft', message: sampleMessages('b', 'a')[4] as never });
  a.transport.send('c', { channel: 'raft', message: sampleMessages('a', 'c')[4] as never });
  await waitFor('refusals', () => a.unreachable.includes('b') && wrongKey.unreachable.includes('a') && a.unreachable.includes('c'));
  assert.equal(a.received.length + wrongKey.received.length + wrongCluster.received.length, 0);
  assert.ok(a.transport.metrics.handshakeRejections >= 1, 'a refused b, whose proof is wrong');
  assert.ok(wrongCluster.transport.metrics.handshakeRejections >= 1, 'c refused a, whose cluster id is wrong');
  assert.ok(wrongKey.transport.metrics.handshakeRejections >= 1);
});

test('a dialer that does not finish the handshake in time is cut off', async (t) => {
  const silent = await startSilentServer();
  const port = silent.port;
  const a = await startNode('a', { handshakeTimeoutMs: 100 });
  t.after(async () => {
    await a.transport.close();
    await silent.close();
  });
  a.transport.setPeers(new Map([['z', `127.0.0.1:${port}`]]));
  a.transport.send('z', { channel: 'exec', body: 1 });
  await waitFor('handshake timeout', () => a.unreachable.includes('z'));
  assert.equal(a.transport.metrics.handshakeRejections, 1);
  assert.equal(a.transport.metrics.connectionFailures, 1);
});

test('the sender reconnects after its peer restarts', async (t) => {
  const a = await startNode('a');
  let b = await startNode('b');
  const port = Number(b.address.split(':')[1]);
  t.after(() => Promise.all([a.transport.close(), b.transport.close()]));
  connectAll({ a, b });
  a.transport.send('b', { channel: 'exec', body: 'before' });
  await waitFor('first message', () => b.received.length === 1);
  await b.transport.close();
  await waitFor('a notices b is gone', () => a.unreachable.includes('b'));
  b = await startNode('b', {}, port);
  b.transport.setPeers(new Map([['a', a.address]]));
  // Raft keeps sending (heartbeats); some sends land in a backoff window, one gets through.
  await waitFor('message after restart', () => {
    a.transport.send('b', { channel: 'exec', body: 'after' });
    return b.received.some((r) => r.envelope.channel === 'exec' && r.envelope.body === 'after');
  });
  assert.ok(a.transport.metrics.connectionAttempts >= 2);
});

test('a full per-peer queue drops new messages and counts them', async (t) => {
  const silent = await startSilentServer();
  const port = silent.port;
  const a = await startNode('a', { queueMessagesMax: 5, queueBytesMax: 1 << 20 });
  t.after(async () => {
    await a.transport.close();
    await silent.close();
  });
  a.transport.setPeers(new Map([['z', `127.0.0.1:${port}`]]));
  const results = Array.from({ length: 8 }, (_, i) => a.transport.send('z', { channel: 'exec', body: i }));
  assert.deepEqual(results, [true, true, true, true, true, false, false, false]);
  assert.equal(a.transport.metrics.framesDroppedQueueFull, 3);
  assert.deepEqual(a.transport.queued('z'), { messages: 5, bytes: a.transport.queued('z').bytes });
  assert.equal(a.transport.send('z', { channel: 'exec', body: 'x'.repeat(1 << 20) }), false, 'the byte limit holds too');
  assert.equal(a.transport.metrics.framesDroppedQueueFull, 4);
  assert.equal(a.transport.send('nobody', { channel: 'exec', body: 1 }), false);
  assert.equal(a.transport.metrics.framesDroppedUnknownPeer, 1);
});

test('the receiving side learns, by peer id, when a connection its peer opened closes', async (t) => {
  const { a, b } = await connectedPair(t);
  a.transport.send('b', { channel: 'exec', body: 1 });
  await waitFor('delivery', () => b.received.length === 1);
  assert.deepEqual(b.inboundLost, []);
  // a drops b as a peer: its connection to b closes, and what it had queued there is gone.
  a.transport.setPeers(new Map([['a', a.address]]));
  await waitFor('b hears that a\'s connection closed', () => b.inboundLost.length === 1);
  assert.deepEqual(b.inboundLost, ['a']);
  assert.deepEqual(a.inboundLost, [], 'a\'s own connections are not inbound');
});

test('removing a peer closes its connection and stops sends to it', async (t) => {
  const { a, b } = await connectedPair(t);
  a.transport.send('b', { channel: 'exec', body: 1 });
  await waitFor('delivery', () => b.received.length === 1);
  a.transport.setPeers(new Map([['a', a.address]]));
  assert.equal(a.transport.send('b', { channel: 'exec', body: 2 }), false);
});

test('what one turn queued leaves in one socket write per peer at the turn\'s end, or at once on flush', async (t) => {
  const { a, b } = await connectedPair(t);
  const [first, second, third] = sampleMessages('a', 'b');
  assert.ok(first !== undefined && second !== undefined && third !== undefined);
  a.transport.send('b', { channel: 'raft', message: first });
  await waitFor('connected and delivered', () => b.received.length === 1);
  const writes = a.transport.metrics.socketWrites;

  a.transport.send('b', { channel: 'raft', message: second });
  a.transport.send('b', { channel: 'raft', message: third });
  assert.equal(a.transport.metrics.socketWrites, writes, 'nothing is written while the turn goes on');
  a.transport.flush();
  assert.equal(a.transport.metrics.socketWrites, writes + 1, 'flush writes both at once');
  await Promise.resolve();
  assert.equal(a.transport.metrics.socketWrites, writes + 1, 'and the turn\'s end finds nothing left');

  a.transport.send('b', { channel: 'raft', message: first });
  a.transport.send('b', { channel: 'raft', message: second });
  await Promise.resolve();
  assert.equal(a.transport.metrics.socketWrites, writes + 2, 'without flush, one write at the turn\'s end');
  await waitFor('all delivered', () => b.received.length === 5);
  assert.deepEqual(b.received.map((r) => r.envelope), [first, second, third, first, second].map((message) => ({ channel: 'raft', message })));
});
