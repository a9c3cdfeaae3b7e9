// Mutual TLS between peers, with a throwaway PKI made by `openssl` for this file.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect as connectTls, type ConnectionOptions as TlsConnectOptions, type TLSSocket } from 'node:tls';
import { connect as connectTcp } from 'node:net';
import type { NodeId } from '../raft/index.js';
import { issueCert, makeTestPki, type Pem, type TestPki } from '../../test/support/certs.js';
import { derInteger, makeBenchPki } from './bench-pki.js';
import { decodePayload, encodePayload } from './codec.js';
import type { Envelope } from './envelope.js';
import { encodeFrame, FrameDecoder } from './frame.js';
import { newChallenge, proof, PROTOCOL_VERSION } from './handshake.js';
import { certificateNodeIds, type PeerTlsOptions } from './peer-tls.js';
import { TcpTransport, type TcpTransportOptions } from './tcp-transport.js';
import { sampleMessages } from '../../test/support/rpc-messages.js';
import { waitFor } from '../../test/support/wait-for.js';

const KEY = new TextEncoder().encode('0123456789abcdef0123456789abcdef');
const CLUSTER = 'test-cluster';

let dir = '';
/** The cluster's CA, with certificates for a, b, c and d. */
let pki: TestPki;
/** Another CA: its certificates name cluster nodes but the cluster does not trust it. */
let foreign: TestPki;

before(() => {
  dir = mkdtempSync(join(tmpdir(), 'chime-tls-'));
  pki = makeTestPki(dir, ['a', 'b', 'c', 'd']);
  foreign = makeTestPki(dir, ['a', 'c'], 'foreign');
});
after(() => rmSync(dir, { recursive: true, force: true }));

interface Node {
  readonly transport: TcpTransport;
  readonly received: { from: NodeId; envelope: Envelope }[];
  readonly unreachable: NodeId[];
  /** Every log line, as JSON. */
  readonly logs: string[];
  readonly port: number;
  readonly address: string;
}

function creds(pem: Pem, ca: Pem): PeerTlsOptions {
  return { cert: pem.cert, key: pem.key, ca: ca.cert };
}

/** A transport on an OS-chosen port; TLS with its own certificate unless `tls` is 'plain'. */
async function startNode(id: NodeId, overrides: Partial<TcpTransportOptions> = {}, tls: 'tls' | 'plain' = 'tls'): Promise<Node> {
  const received: Node['received'] = [];
  const unreachable: NodeId[] = [];
  const logs: string[] = [];
  const options: TcpTransportOptions = {
    id,
    clusterId: CLUSTER,
    key: KEY,
    onMessage: (from, envelope) => received.push({ from, envelope }),
    onUnreachable: (peer) => unreachable.push(peer),
    backoff: { baseMs: 10, maxMs: 50 },
    log: (level, msg, fields) => logs.push(JSON.stringify({ level, msg, ...fields })),
    ...(tls === 'tls' ? { tls: creds(pki.nodes[id] as Pem, pki.ca) } : {}),
    ...overrides,
  };
  const transport = new TcpTransport(options);
  const bound = await transport.listen('127.0.0.1', 0);
  return { transport, received, unreachable, logs, port: bound.port, address: `127.0.0.1:${bound.port}` };
}

function peers(entries: Record<NodeId, Node>): ReadonlyMap<NodeId, string> {
  return new Map(Object.entries(entries).map(([id, node]) => [id, node.address]));
}

/** Sends `body` from `from` to `to` and waits until `to` delivered it. */
async function deliver(from: Node, to: Node, toId: NodeId, body: unknown): Promise<void> {
  assert.ok(from.transport.send(toId, { channel: 'exec', body }));
  await waitFor(`delivery of ${JSON.stringify(body)}`, () => to.received.some((r) => r.envelope.channel === 'exec' && JSON.stringify(r.envelope.body) === JSON.stringify(body)));
}

interface RawPeer {
  readonly socket: TLSSocket;
  /** Frames the listener sent, decoded. */
  readonly frames: unknown[];
  closed: boolean;
  secure: boolean;
}

/** A hand-driven TLS client, to do what a TcpTransport never would. */
function rawTlsPeer(port: number, options: TlsConnectOptions): RawPeer {
  const socket = connectTls({ host: '127.0.0.1', port, ca: pki.ca.cert, checkServerIdentity: () => undefined, ...options });
  const peer: RawPeer = { socket, frames: [], closed: false, secure: false };
  const decoder = new FrameDecoder(1 << 20);
  socket.on('secureConnect', () => (peer.secure = true));
  socket.on('data', (chunk: Buffer) => {
    for (const frame of decoder.push(chunk).frames) {
      const decoded = decodePayload(frame);
      peer.frames.push(decoded.ok ? decoded.value : null);
    }
  });
  socket.on('error', () => undefined);
  socket.on('close', () => (peer.closed = true));
  return peer;
}

function helloFrame(node: NodeId, challenge: Uint8Array): Buffer {
  return encodeFrame(encodePayload({ hs: 'hello', version: PROTOCOL_VERSION, cluster: CLUSTER, node, challenge }));
}

test('a certificate names its nodes only through exact URI:chime-node:<id> entries', () => {
  assert.deepEqual(certificateNodeIds('IP Address:127.0.0.1, DNS:localhost, URI:chime-node:n1, URI:chime-node:n2'), ['n1', 'n2']);
  assert.deepEqual(certificateNodeIds(undefined), []);
  assert.deepEqual(certificateNodeIds('DNS:chime-node:n1, URI:https://n1, URI:chime-node:N1, URI:chime-node:n1/x'), []);
  // Node quotes a value holding ", "; a name hidden inside it must not be read out.
  assert.deepEqual(certificateNodeIds('URI:"x, URI:chime-node:n1"'), []);
});

test('two TLS transports exchange every Raft message type and app envelopes both ways', async (t) => {
  const a = await startNode('a');
  const b = await startNode('b');
  t.after(() => Promise.all([a.transport.close(), b.transport.close()]));
  a.transport.setPeers(peers({ a, b }));
  b.transport.setPeers(peers({ a, b }));
  for (const message of sampleMessages('a', 'b')) assert.ok(a.transport.send('b', { channel: 'raft', message }));
  const chunk = Uint8Array.from({ length: 1 << 20 }, (_, i) => (i * 31 + 7) % 251);
  const snap = { type: 'snap' as const, from: 'b', to: 'a', term: 5, meta: { index: 100, term: 5, conf: { voters: ['a', 'b'], learners: [] } }, totalBytes: chunk.length, offset: 0, data: chunk, done: false };
  assert.ok(b.transport.send('a', { channel: 'raft', message: snap }));
  assert.ok(b.transport.send('a', { channel: 'exec', body: { runId: 'r-1', attempt: 2 } }));
  await waitFor('all messages', () => b.received.length === 11 && a.received.length === 2);
  assert.deepEqual(b.received.map((r) => r.envelope), sampleMessages('a', 'b').map((message) => ({ channel: 'raft', message })));
  assert.ok(b.received.every((r) => r.from === 'a'));
  assert.deepEqual(a.received[0], { from: 'b', envelope: { channel: 'raft', message: snap } });
  assert.deepEqual(a.received[1], { from: 'b', envelope: { channel: 'exec', body: { runId: 'r-1', attempt: 2 } } });
  for (const node of [a, b]) {
    assert.equal(node.transport.metrics.tlsRefused, 0);
    assert.equal(node.transport.metrics.handshakeRejections, 0);
  }
});

test('a dialer whose certificate another CA signed is refused in the TLS handshake, before any frame is read', async (t) => {
  const a = await startNode('a');
  const b = await startNode('b');
  // c trusts the cluster's CA, so it accepts a's certificate; a must refuse c's.
  const c = await startNode('c', { tls: { cert: foreign.nodes['c']?.cert as string, key: foreign.nodes['c']?.key as string, ca: pki.ca.cert } });
  t.after(() => Promise.all([a.transport.close(), b.transport.close(), c.transport.close()]));
  c.transport.setPeers(peers({ a }));
  c.transport.send('a', { channel: 'exec', body: 'from c' });
  await waitFor('a refuses c', () => a.transport.metrics.tlsRefused >= 1 && c.unreachable.includes('a'));
  assert.equal(a.received.length, 0);
  assert.equal(a.transport.metrics.bytesReceived, 0, 'no byte of c reached a frame decoder');
  assert.equal(a.transport.metrics.handshakeRejections, 0, 'the chime handshake never started');
  assert.equal(a.transport.metrics.connectionsAccepted, 0);
  const refusal = a.logs.map((line) => JSON.parse(line) as Record<string, unknown>).find((line) => line['msg'] === 'refused a peer in the TLS handshake');
  assert.match(String(refusal?.['reason']), /peer certificate not verified: \w+/);
  assert.match(String(refusal?.['remote']), /^127\.0\.0\.1:\d+$/);
  for (const secret of ['PRIVATE KEY', new TextDecoder().decode(KEY)]) assert.ok(!a.logs.some((line) => line.includes(secret)), 'no secret in the logs');
  // a still serves its cluster.
  b.transport.setPeers(peers({ a }));
  await deliver(b, a, 'a', 'from b');
  assert.deepEqual(a.received.map((r) => r.from), ['b']);
});

test('a listener whose certificate another CA signed is refused by the dialer', async (t) => {
  const a = await startNode('a');
  const c = await startNode('c', { tls: { cert: foreign.nodes['c']?.cert as string, key: foreign.nodes['c']?.key as string, ca: pki.ca.cert } });
  t.after(() => Promise.all([a.transport.close(), c.transport.close()]));
  a.transport.setPeers(peers({ c }));
  a.transport.send('c', { channel: 'exec', body: 'to c' });
  await waitFor('a refuses c as a server', () => a.transport.metrics.tlsRefused >= 1 && a.unreachable.includes('c'));
  assert.equal(c.received.length, 0);
  assert.equal(c.transport.metrics.bytesReceived, 0);
});

for (const version of ['TLSv1.3', 'TLSv1.2'] as const) {
  test(`a ${version} client that shows no certificate is refused before any frame is read`, async (t) => {
    const a = await startNode('a');
    t.after(() => a.transport.close());
    const raw = rawTlsPeer(a.port, { maxVersion: version });
    // TLS 1.3 lets a client write before the server has checked it; the hello must go nowhere.
    raw.socket.on('secureConnect', () => raw.socket.write(helloFrame('b', newChallenge())));
    await waitFor('refusal', () => raw.closed && a.transport.metrics.tlsRefused === 1);
    assert.deepEqual(raw.frames, []);
    assert.equal(a.transport.metrics.bytesReceived, 0);
    assert.equal(a.transport.metrics.handshakeRejections, 0);
    assert.equal(a.received.length, 0);
  });
}

test('a plain TCP dialer is refused by a TLS listener, which keeps serving', async (t) => {
  const a = await startNode('a');
  const b = await startNode('b');
  const plain = await startNode('c', {}, 'plain');
  t.after(() => Promise.all([a.transport.close(), b.transport.close(), plain.transport.close()]));
  plain.transport.setPeers(peers({ a }));
  plain.transport.send('a', { channel: 'exec', body: 'plain' });
  await waitFor('refusal of the plain dialer', () => a.transport.metrics.tlsRefused === 1 && plain.unreachable.includes('a'));
  assert.equal(a.transport.metrics.bytesReceived, 0);
  assert.equal(a.received.length, 0);
  // A raw socket writing a frame header does no better.
  const socket = connectTcp(a.port, '127.0.0.1', () => socket.write(helloFrame('b', newChallenge())));
  socket.on('error', () => undefined);
  let closed = false;
  socket.on('close', () => (closed = true));
  await waitFor('refusal of the raw socket', () => closed && a.transport.metrics.tlsRefused === 2);
  b.transport.setPeers(peers({ a }));
  await deliver(b, a, 'a', 'still serving');
});

test('a certificate of one node cannot speak as another', async (t) => {
  const a = await startNode('a');
  const c = await startNode('c');
  t.after(() => Promise.all([a.transport.close(), c.transport.close()]));
  // A listener: b's certificate with a hello that claims c, cluster key or not.
  const raw = rawTlsPeer(a.port, { cert: pki.nodes['b']?.cert as string, key: pki.nodes['b']?.key as string });
  raw.socket.on('secureConnect', () => raw.socket.write(helloFrame('c', newChallenge())));
  await waitFor('refusal of the impostor', () => raw.closed && a.transport.metrics.tlsRefused === 1);
  assert.deepEqual(raw.frames, [], 'no reply, so no proof, went to the impostor');
  assert.equal(a.transport.metrics.handshakeRejections, 0);
  // A dialer: a dials "b" but reaches c, whose certificate names c: refused in the handshake.
  a.transport.setPeers(new Map([['b', c.address]]));
  a.transport.send('b', { channel: 'exec', body: 'to b' });
  await waitFor('a refuses c posing as b', () => a.transport.metrics.tlsRefused === 2 && a.unreachable.includes('b'));
  assert.equal(c.received.length, 0);
  assert.equal(c.transport.metrics.bytesReceived, 0);
  // A transport cannot even be built with a certificate that does not name it.
  assert.throws(() => new TcpTransport({ id: 'a', clusterId: CLUSTER, key: KEY, onMessage: () => undefined, tls: creds(pki.nodes['b'] as Pem, pki.ca) }), /does not name node a/);
});

test('reloadTls takes a new CA and certificate for new connections and keeps established ones', async (t) => {
  const a = await startNode('a');
  const b = await startNode('b');
  t.after(() => Promise.all([a.transport.close(), b.transport.close()]));
  b.transport.setPeers(peers({ a }));
  await deliver(b, a, 'a', 'before reload');
  const next = makeTestPki(join(dir, 'rotated'), ['a', 'c'], 'rotated');
  assert.throws(() => a.transport.reloadTls(creds(next.nodes['c'] as Pem, next.ca)), /does not name node a/, 'unusable credentials are refused');
  assert.throws(() => a.transport.reloadTls({ cert: 'not a certificate', key: 'x', ca: next.ca.cert }), /not a PEM certificate/);
  a.transport.reloadTls(creds(next.nodes['a'] as Pem, next.ca));
  // b's connection, made under the old CA, stays up and carries on.
  const attempts = b.transport.metrics.connectionAttempts;
  await deliver(b, a, 'a', 'after reload on the old connection');
  assert.equal(b.transport.metrics.connectionAttempts, attempts);
  assert.equal(a.transport.metrics.connectionsAccepted, 1);
  // A new dialer with an old-CA certificate is refused; one from the new CA gets in.
  const d = await startNode('d');
  const c = await startNode('c', { tls: creds(next.nodes['c'] as Pem, next.ca) });
  t.after(() => Promise.all([d.transport.close(), c.transport.close()]));
  d.transport.setPeers(peers({ a }));
  d.transport.send('a', { channel: 'exec', body: 'from d' });
  await waitFor('a refuses the old CA', () => a.transport.metrics.tlsRefused >= 1 && d.unreachable.includes('a'));
  c.transport.setPeers(peers({ a }));
  await deliver(c, a, 'a', 'from c');
  // a's own dials use the new credentials too.
  a.transport.setPeers(peers({ c }));
  await deliver(a, c, 'c', 'from a');
  assert.ok(!a.received.some((r) => r.from === 'd'));
});

/** Runs the chime handshake as node `self` over a raw TLS peer, then returns it open. */
async function openRawPeer(port: number, self: NodeId, listener: NodeId): Promise<RawPeer> {
  const pem = pki.nodes[self] as Pem;
  const raw = rawTlsPeer(port, { cert: pem.cert, key: pem.key });
  const challenge = newChallenge();
  await waitFor('TLS handshake', () => raw.secure);
  raw.socket.write(helloFrame(self, challenge));
  await waitFor('hello reply', () => raw.frames.length === 1);
  const reply = raw.frames[0] as { node: NodeId; challenge: Uint8Array };
  assert.equal(reply.node, listener);
  const finish = proof(KEY, 'dialer', CLUSTER, self, listener, reply.challenge, challenge);
  raw.socket.write(encodeFrame(encodePayload({ hs: 'finish', proof: finish })));
  return raw;
}

test('a corrupt frame inside TLS closes only that connection', async (t) => {
  const a = await startNode('a');
  const b = await startNode('b');
  t.after(() => Promise.all([a.transport.close(), b.transport.close()]));
  b.transport.setPeers(peers({ a }));
  await deliver(b, a, 'a', 'before');
  const raw = await openRawPeer(a.port, 'c', 'a');
  raw.socket.write(encodeFrame(encodePayload({ channel: 'exec', body: 'from raw c' })));
  await waitFor('the raw peer is through the handshake', () => a.received.some((r) => r.from === 'c'));
  // A length of zero is never valid.
  raw.socket.write(Buffer.from([0, 0, 0, 0]));
  await waitFor('the corrupt connection closes', () => raw.closed && a.transport.metrics.protocolErrors === 1);
  const attempts = b.transport.metrics.connectionAttempts;
  await deliver(b, a, 'a', 'after');
  assert.equal(b.transport.metrics.connectionAttempts, attempts, "b's connection was never touched");
  assert.equal(a.transport.metrics.tlsRefused, 0);
});

test('an issued certificate that names no node is refused as a peer', async (t) => {
  const a = await startNode('a');
  t.after(() => a.transport.close());
  const anonymous = issueCert(join(dir, 'chime-test'), pki.ca, 'anonymous', { nodeIds: [] });
  const raw = rawTlsPeer(a.port, { cert: anonymous.cert, key: anonymous.key });
  raw.socket.on('secureConnect', () => raw.socket.write(helloFrame('b', newChallenge())));
  await waitFor('refusal', () => raw.closed && a.transport.metrics.tlsRefused === 1);
  assert.deepEqual(raw.frames, []);
});

test('a peer cannot resume a TLS session: every connection has its certificate verified afresh', async (t) => {
  const a = await startNode('a');
  t.after(() => a.transport.close());
  const pem = pki.nodes['b'] as Pem;
  const first = rawTlsPeer(a.port, { cert: pem.cert, key: pem.key });
  let session: Buffer | null = null;
  first.socket.on('session', (ticket: Buffer) => (session = ticket));
  first.socket.on('secureConnect', () => first.socket.write(helloFrame('b', newChallenge())));
  await waitFor('a reply on the first connection', () => first.frames.length === 1);
  first.socket.destroy();
  // Without tickets OpenSSL still hands a TLS 1.3 client a session, but must not resume it.
  const second = rawTlsPeer(a.port, { cert: pem.cert, key: pem.key, ...(session === null ? {} : { session }) });
  second.socket.on('secureConnect', () => second.socket.write(helloFrame('b', newChallenge())));
  await waitFor('a reply on the second connection', () => second.frames.length === 1 || second.closed);
  assert.equal(second.socket.isSessionReused(), false);
  assert.equal(second.frames.length, 1);
  second.socket.destroy();
  assert.equal(a.transport.metrics.tlsRefused, 0);
});

test('peers speak TLS 1.3 when they can and still accept TLS 1.2', async (t) => {
  const a = await startNode('a');
  t.after(() => a.transport.close());
  const pem = pki.nodes['b'] as Pem;
  for (const [maxVersion, expected] of [['TLSv1.3', 'TLSv1.3'], ['TLSv1.2', 'TLSv1.2']] as const) {
    const raw = rawTlsPeer(a.port, { cert: pem.cert, key: pem.key, maxVersion });
    raw.socket.on('secureConnect', () => raw.socket.write(helloFrame('b', newChallenge())));
    await waitFor(`a reply over ${maxVersion}`, () => raw.frames.length === 1 || raw.closed);
    assert.equal(raw.socket.getProtocol(), expected);
    assert.equal((raw.frames[0] as { hs?: unknown } | undefined)?.hs, 'reply');
    raw.socket.destroy();
  }
  assert.equal(a.transport.metrics.tlsRefused, 0);
});

test("the bench's in-process certificates pass the same checks as openssl's", async (t) => {
  const bench = makeBenchPki(['a', 'b']);
  const tlsOf = (id: 'a' | 'b'): PeerTlsOptions => ({ cert: bench.nodes[id]?.cert as string, key: bench.nodes[id]?.key as string, ca: bench.ca.cert });
  const a = await startNode('a', { tls: tlsOf('a') });
  const b = await startNode('b', { tls: tlsOf('b') });
  t.after(() => Promise.all([a.transport.close(), b.transport.close()]));
  a.transport.setPeers(peers({ b }));
  await deliver(a, b, 'b', 'bench certificates');
  assert.equal(a.transport.metrics.tlsRefused + b.transport.metrics.tlsRefused, 0);
});

test("the bench's DER integers are minimal: no leading zero unless the sign bit needs one", () => {
  const hex = (bytes: number[]): string => derInteger(Buffer.from(bytes)).toString('hex');
  assert.equal(hex([2]), '020102');
  assert.equal(hex([0]), '020100');
  assert.equal(hex([0x80]), '02020080');
  // A random serial that happens to start with zero bytes loses them (OpenSSL: "illegal padding").
  assert.equal(hex([0, 0x12, 0x34]), '02021234');
  assert.equal(hex([0, 0, 0x80, 1]), '0203008001');
  assert.equal(hex([0, 0]), '020100');
});

test('sockets still in the TLS handshake count toward the inbound limit, and close() ends them', async (t) => {
  const a = await startNode('a', { inboundConnectionsMax: 2, handshakeTimeoutMs: 60_000 });
  const silent = [connectTcp(a.port, '127.0.0.1'), connectTcp(a.port, '127.0.0.1'), connectTcp(a.port, '127.0.0.1')];
  // Should an assertion fail, nothing may keep the test process alive.
  t.after(() => {
    for (const socket of silent) socket.destroy();
    return a.transport.close();
  });
  const closed = new Set<number>();
  silent.forEach((socket, i) => {
    socket.on('error', () => undefined);
    socket.on('close', () => closed.add(i));
  });
  await waitFor('the third socket refused', () => a.transport.metrics.connectionsRefused === 1 && closed.size === 1);
  // Neither of the two others said a word; close() must not wait for their handshake timeout.
  let finished = false;
  void a.transport.close().then(() => (finished = true));
  await waitFor('close() ends the handshaking sockets', () => finished && closed.size === 3, 2_000);
  assert.equal(a.transport.metrics.tlsRefused, 0, 'ending them at close is no refusal');
});
