import assert from 'node:assert/strict';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { clearTimeout, setTimeout } from 'node:timers';
import { connect as connectTls, createServer as createTlsServer, Server as TlsServer, type TLSSocket } from 'node:tls';
import type { NodeId } from '../raft/index.js';
import { parseHostPort, type HostPort } from './address.js';
import { BACKOFF_DEFAULT, backoffDelayMs, type BackoffPolicy } from './backoff.js';
import { encodePayload } from './codec.js';
import { Connection } from './connection.js';
import type { Envelope } from './envelope.js';
import { FRAME_BYTES_MAX_DEFAULT } from './frame.js';
import { newMetrics, type Log, type TransportMetrics } from './metrics.js';
import { prepareTls, serverIdentityCheck, type PeerTlsOptions, type PreparedTls } from './peer-tls.js';
import type { Transport, TransportHandlers } from './transport.js';

export interface TcpTransportOptions extends TransportHandlers {
  readonly id: NodeId;
  readonly clusterId: string;
  /** The shared cluster secret both sides prove they hold. */
  readonly key: Uint8Array;
  readonly frameBytesMax?: number;
  readonly handshakeTimeoutMs?: number;
  /** Per-peer send queue limits; beyond either, new messages are dropped. */
  readonly queueMessagesMax?: number;
  readonly queueBytesMax?: number;
  readonly inboundConnectionsMax?: number;
  readonly backoff?: BackoffPolicy;
  /** Random number in [0, 1) for backoff jitter; injectable for tests. */
  readonly random?: () => number;
  readonly log?: Log;
  /**
   * Mutual TLS for every peer connection, both ways, verified against `ca` only; each
   * certificate must name its node (`URI:chime-node:<id>`). Absent: plain TCP.
   */
  readonly tls?: PeerTlsOptions;
}

interface Peer {
  readonly id: NodeId;
  readonly address: HostPort;
  readonly queue: Uint8Array[];
  queuedBytes: number;
  connection: Connection | null;
  attempt: number;
  retryTimer: ReturnType<typeof setTimeout> | null;
  /** A write of the queue is scheduled for the end of this turn of the event loop. */
  flushScheduled: boolean;
}

/**
 * Node-to-node messages over TCP. Each node dials one connection per peer, lazily, and
 * sends only on connections it dialed; it receives on connections peers dialed to it.
 * Raft tolerates loss, so a full queue or a broken connection drops messages (counted)
 * rather than growing without bound.
 */
export class TcpTransport implements Transport {
  readonly id: NodeId;
  readonly metrics: TransportMetrics = newMetrics();
  private readonly options: TcpTransportOptions;
  private readonly peers = new Map<NodeId, Peer>();
  private readonly inbound = new Set<Connection>();
  private readonly frameBytesMax: number;
  private readonly log: Log;
  private server: Server | null = null;
  /** The current TLS credentials (replaced by reloadTls); null for plain TCP. */
  private tls: PreparedTls | null;
  /** Sockets a TLS listener holds, handshaking or not, so close() can end them all. */
  private readonly tlsSockets = new Set<Socket>();
  /**
   * Their remote addresses, read on arrival: node:tls reports some refusals after the
   * socket closed, when the address can no longer be read. Weak, so nothing piles up.
   */
  private readonly tlsRemotes = new WeakMap<object, string>();
  private closed = false;

  /** Throws (an Error saying why) when `options.tls` is unusable. */
  constructor(options: TcpTransportOptions) {
    this.options = options;
    this.id = options.id;
    this.frameBytesMax = options.frameBytesMax ?? FRAME_BYTES_MAX_DEFAULT;
    this.log = options.log ?? (() => undefined);
    assert.ok(options.key.length >= 16, 'the cluster key must be at least 16 bytes');
    this.tls = options.tls === undefined ? null : prepareTls(options.tls, options.id);
  }

  /** Starts accepting peers; port 0 lets the OS choose. Resolves with the bound address. */
  listen(host: string, port: number): Promise<HostPort> {
    assert.ok(this.server === null && !this.closed, 'listen() once, before close()');
    const server = this.tls === null ? createServer((socket) => this.accept(socket)) : this.tlsServer(this.tls);
    this.server = server;
    return new Promise((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, host, () => {
        server.off('error', reject);
        server.on('error', (error) => this.log('error', 'rpc listener error', { error: error.message }));
        const bound = server.address();
        assert.ok(bound !== null && typeof bound === 'object');
        resolve({ host: bound.address, port: bound.port });
      });
    });
  }

  setPeers(peers: ReadonlyMap<NodeId, string>): void {
    for (const [id, peer] of this.peers) {
      const address = peers.get(id);
      if (address !== undefined && sameAddress(parseHostPort(address), peer.address)) continue;
      this.dropPeer(peer);
    }
    for (const [id, text] of peers) {
      if (id === this.id || this.peers.has(id)) continue;
      const address = parseHostPort(text);
      if (address === null) {
        this.log('warn', 'ignoring peer with a malformed address', { peer: id, address: text });
        continue;
      }
      this.peers.set(id, { id, address, queue: [], queuedBytes: 0, connection: null, attempt: 0, retryTimer: null, flushScheduled: false });
    }
  }

  send(to: NodeId, envelope: Envelope): boolean {
    const peer = this.peers.get(to);
    if (this.closed || peer === undefined) {
      this.metrics.framesDroppedUnknownPeer += 1;
      return false;
    }
    const payload = encodePayload(envelope);
    if (payload.length > this.frameBytesMax) {
      this.metrics.framesDroppedTooLarge += 1;
      this.log('error', 'message larger than the frame limit dropped', { peer: to, bytes: payload.length, limit: this.frameBytesMax });
      return false;
    }
    const queueMessagesMax = this.options.queueMessagesMax ?? 4096;
    const queueBytesMax = this.options.queueBytesMax ?? 64 << 20;
    if (peer.queue.length >= queueMessagesMax || peer.queuedBytes + payload.length > queueBytesMax) {
      this.metrics.framesDroppedQueueFull += 1;
      return false;
    }
    peer.queue.push(payload);
    peer.queuedBytes += payload.length;
    // Messages sent in one turn (a Ready's appends, acks of a burst of frames) leave in one
    // socket write: on loopback each write also runs the receiver's TCP stack, so writes,
    // not bytes, are what costs.
    if (!peer.flushScheduled) {
      peer.flushScheduled = true;
      queueMicrotask(() => this.flushPeer(peer));
    }
    return true;
  }

  /**
   * Writes what `send` queued so far in this turn now instead of at the turn's end: a
   * leader's appends leave before its own disk write and apply, which take the rest of the
   * turn (the Ready loop calls this once a Ready's appends are queued).
   */
  flush(): void {
    for (const peer of this.peers.values()) this.flushPeer(peer);
  }

  private flushPeer(peer: Peer): void {
    if (!peer.flushScheduled) return;
    peer.flushScheduled = false;
    // The peer may have been removed (or the transport closed) since: never redial it.
    if (!this.closed && this.peers.get(peer.id) === peer) this.pump(peer);
  }

  /**
   * Replaces the TLS certificate, key and CA for connections made from now on, both
   * accepted and dialed; established connections stay up. Throws (keeping the current
   * credentials) when the new ones are unusable. Only for a transport built with `tls`.
   */
  reloadTls(tls: PeerTlsOptions): void {
    assert.ok(this.tls !== null, 'reloadTls() needs a transport built with tls');
    const next = prepareTls(tls, this.id);
    const server = this.server;
    if (server !== null) {
      assert.ok(server instanceof TlsServer, 'a transport built with tls listens with TLS');
      server.setSecureContext(next.contextOptions);
    }
    this.tls = next;
    this.log('info', 'peer TLS credentials reloaded', { fingerprint: next.fingerprint, validTo: next.validTo });
  }

  /**
   * Whether this node's connection to `peer` is open (handshake done): what is sent now is
   * written to it at the end of this turn, rather than waiting for a dial that may fail.
   */
  connected(peer: NodeId): boolean {
    return this.peers.get(peer)?.connection?.isOpen === true;
  }

  /** Messages waiting for `peer`'s connection (for status pages and tests). */
  queued(peer: NodeId): { messages: number; bytes: number } {
    const p = this.peers.get(peer);
    return p === undefined ? { messages: 0, bytes: 0 } : { messages: p.queue.length, bytes: p.queuedBytes };
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const peer of this.peers.values()) this.dropPeer(peer);
    for (const connection of this.inbound) connection.close('transport closed');
    for (const socket of this.tlsSockets) socket.destroy();
    const server = this.server;
    if (server !== null) await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  /** Writes queued messages while the socket takes them; the rest wait for 'drain'. */
  private pump(peer: Peer): void {
    const connection = peer.connection;
    if (connection === null) {
      if (peer.retryTimer === null) this.dial(peer);
      return;
    }
    // Corking turns a burst of small messages (a Ready's worth) into few socket writes.
    if (connection.writable && peer.queue.length > 0) this.metrics.socketWrites += 1;
    connection.cork();
    while (connection.writable) {
      const payload = peer.queue.shift();
      if (payload === undefined) break;
      peer.queuedBytes -= payload.length;
      connection.sendPayload(payload);
    }
    connection.uncork();
  }

  private dial(peer: Peer): void {
    assert.ok(peer.connection === null && peer.retryTimer === null && !this.closed);
    this.metrics.connectionAttempts += 1;
    const { host, port } = peer.address;
    // rejectUnauthorized is node:tls's default; it is spelled out because everything rests on it.
    const socket = this.tls === null ? connect({ host, port }) : connectTls({ host, port, secureContext: this.tls.context, rejectUnauthorized: true, checkServerIdentity: serverIdentityCheck(peer.id) });
    peer.connection = this.connection(socket, peer.id, {
      onOpen: () => {
        peer.attempt = 0;
        this.pump(peer);
      },
      onClose: (connection, opened, reason) => {
        if (peer.connection !== connection) return;
        peer.connection = null;
        if (!opened) this.metrics.connectionFailures += 1;
        this.log(opened ? 'info' : 'debug', 'connection to peer lost', { peer: peer.id, reason });
        this.metrics.framesDroppedConnectionLost += peer.queue.length;
        peer.queue.length = 0;
        peer.queuedBytes = 0;
        if (this.peers.get(peer.id) === peer && !this.closed) {
          this.scheduleRedial(peer);
          this.options.onUnreachable?.(peer.id);
        }
      },
    });
  }

  /** The next dial waits a backoff; messages sent meanwhile queue up (within the limits). */
  private scheduleRedial(peer: Peer): void {
    const delayMs = backoffDelayMs(this.options.backoff ?? BACKOFF_DEFAULT, peer.attempt, (this.options.random ?? Math.random)());
    peer.attempt += 1;
    peer.retryTimer = setTimeout(() => {
      peer.retryTimer = null;
      if (peer.queue.length > 0 && !this.closed) this.dial(peer);
    }, delayMs);
  }

  /**
   * A listener that speaks only TLS and asks every peer for a certificate: a peer without
   * one, with one the CA did not sign, or not speaking TLS fails inside the TLS handshake
   * ('tlsClientError'), so its bytes never reach a frame decoder.
   */
  private tlsServer(tls: PreparedTls): TlsServer {
    const server = createTlsServer({
      ...tls.contextOptions,
      requestCert: true,
      rejectUnauthorized: true,
      handshakeTimeout: this.options.handshakeTimeoutMs ?? 5_000,
    }, (socket) => this.acceptTls(socket));
    // Sockets still in the TLS handshake count toward the inbound limit too.
    server.maxConnections = this.options.inboundConnectionsMax ?? 256;
    server.on('drop', () => {
      this.metrics.connectionsRefused += 1;
    });
    server.on('connection', (socket: Socket) => {
      this.tlsSockets.add(socket);
      this.tlsRemotes.set(socket, `${socket.remoteAddress ?? '?'}:${socket.remotePort ?? '?'}`);
      socket.once('close', () => this.tlsSockets.delete(socket));
    });
    server.on('tlsClientError', (error: Error & { code?: string }, socket: TLSSocket) => this.refuseTls(socket, tlsFailure(error)));
    return server;
  }

  private acceptTls(socket: TLSSocket): void {
    // Resumed sessions skip verification; tickets are off, so one here is refused outright.
    if (!socket.authorized || socket.isSessionReused()) {
      this.refuseTls(socket, socket.authorized ? 'resumed TLS session' : 'certificate not verified');
      socket.destroy();
      return;
    }
    this.accept(socket);
  }

  /** Counts and logs a refusal in the TLS handshake; what is logged holds no secret. */
  private refuseTls(socket: TLSSocket, failure: string): void {
    // close() ends handshakes in progress; those are not refusals.
    if (this.closed) return;
    this.metrics.tlsRefused += 1;
    // When node:tls refused the certificate it says why here, and the error is a mere hang-up.
    // Typed as an Error, it is a string at run time: read it as unknown and check.
    const verification: unknown = socket.authorizationError;
    const reason = typeof verification === 'string' && verification !== '' ? `peer certificate not verified: ${verification}` : failure;
    this.log('warn', 'refused a peer in the TLS handshake', { remote: this.remoteOf(socket), reason });
  }

  /**
   * The peer's address for a log line. node:tls reports a certificate it refused after
   * destroying the socket, so the address comes from the raw socket under it, noted on
   * arrival; `_parent` is that socket in every Node release so far, and '?' if it is not.
   */
  private remoteOf(socket: TLSSocket): string {
    const live = socket.remoteAddress;
    if (live !== undefined) return `${live}:${socket.remotePort ?? '?'}`;
    const raw: unknown = Reflect.get(socket, '_parent');
    return (raw instanceof Object ? this.tlsRemotes.get(raw) : undefined) ?? '?';
  }

  private accept(socket: Socket): void {
    const inboundMax = this.options.inboundConnectionsMax ?? 256;
    if (this.closed || this.inbound.size >= inboundMax) {
      this.metrics.connectionsRefused += 1;
      socket.destroy();
      return;
    }
    this.metrics.connectionsAccepted += 1;
    const connection = this.connection(socket, null, {
      onOpen: (opened) => {
        // A peer that redials replaces its old connection; one per peer is enough.
        for (const other of this.inbound) if (other !== opened && other.peer === opened.peer && other.isOpen) other.close('replaced by a newer connection');
      },
      onClose: (closedConnection, opened) => {
        this.inbound.delete(closedConnection);
        const peer = closedConnection.peer;
        if (opened && peer !== null && !this.closed) this.options.onInboundLost?.(peer);
      },
    });
    this.inbound.add(connection);
  }

  private connection(socket: Socket, expectedPeer: NodeId | null, hooks: { onOpen: (c: Connection) => void; onClose: (c: Connection, opened: boolean, reason: string) => void }): Connection {
    return new Connection({
      socket,
      role: expectedPeer === null ? 'listener' : 'dialer',
      self: this.id,
      cluster: this.options.clusterId,
      key: this.options.key,
      expectedPeer,
      frameBytesMax: this.frameBytesMax,
      handshakeTimeoutMs: this.options.handshakeTimeoutMs ?? 5_000,
      metrics: this.metrics,
      log: this.log,
      onOpen: hooks.onOpen,
      onEnvelope: (from, envelope) => this.options.onMessage(from, envelope),
      onDrain: () => {
        const peer = expectedPeer === null ? undefined : this.peers.get(expectedPeer);
        if (peer !== undefined) this.pump(peer);
      },
      onClose: hooks.onClose,
    });
  }

  private dropPeer(peer: Peer): void {
    this.peers.delete(peer.id);
    if (peer.retryTimer !== null) clearTimeout(peer.retryTimer);
    peer.retryTimer = null;
    this.metrics.framesDroppedConnectionLost += peer.queue.length;
    peer.queue.length = 0;
    peer.queuedBytes = 0;
    peer.connection?.close('peer removed');
  }
}

/**
 * A TLS error in one short line: its code and OpenSSL's reason without the library's
 * error-queue prefix and source location ("ERR_SSL_WRONG_VERSION_NUMBER: wrong version number").
 */
function tlsFailure(error: Error & { code?: string }): string {
  const openssl = /:error:[0-9A-Fa-f]+:[^:]*:[^:]*:([^:\n]+)/.exec(error.message);
  const text = openssl?.[1] ?? error.message.split('\n')[0] ?? '';
  return `${error.code ?? 'error'}: ${text.slice(0, 200)}`;
}

function sameAddress(a: HostPort | null, b: HostPort): boolean {
  return a !== null && a.host === b.host && a.port === b.port;
}
