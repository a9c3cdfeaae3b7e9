import assert from 'node:assert/strict';
import type { Socket } from 'node:net';
import { TLSSocket } from 'node:tls';
import { clearTimeout, setTimeout } from 'node:timers';
import type { NodeId } from '../raft/index.js';
import { decodePayload, encodePayload } from './codec.js';
import { validateEnvelope, type Envelope } from './envelope.js';
import { encodeFrame, FrameDecoder } from './frame.js';
import { newChallenge, parseFinish, parseHello, parseReply, proof, proofMatches, PROTOCOL_VERSION, type Role } from './handshake.js';
import type { Log, TransportMetrics } from './metrics.js';
import { certificateNodeIds, identityMismatch } from './peer-tls.js';

export interface ConnectionOptions {
  /**
   * A plain socket, or a TLSSocket: a dialer's still in its TLS handshake, a listener's
   * already through it with a certificate the CA signed (`authorized`).
   */
  readonly socket: Socket;
  readonly role: Role;
  readonly self: NodeId;
  readonly cluster: string;
  readonly key: Uint8Array;
  /** The dialer knows whom it called; the listener learns it from the hello. */
  readonly expectedPeer: NodeId | null;
  readonly frameBytesMax: number;
  readonly handshakeTimeoutMs: number;
  readonly metrics: TransportMetrics;
  readonly log: Log;
  readonly onOpen: (connection: Connection) => void;
  readonly onEnvelope: (from: NodeId, envelope: Envelope) => void;
  readonly onDrain: (connection: Connection) => void;
  /** Called once; `opened` tells a failed dial or handshake from a lost connection. */
  readonly onClose: (connection: Connection, opened: boolean, reason: string) => void;
}

type Stage = 'await-tls' | 'await-hello' | 'await-reply' | 'await-finish' | 'open' | 'closed';

/** Which counter a refusal goes to: certificate and TLS reasons, or the chime protocol. */
type Refusal = 'tls' | 'protocol';

/**
 * One authenticated, framed socket. With TLS, no byte is read as a frame before the TLS
 * handshake is done with a certificate the CA signed. Until the chime handshake is done
 * only handshake frames are accepted; afterwards only envelopes. Anything else closes this
 * connection, never more.
 */
export class Connection {
  peer: NodeId | null;
  private stage: Stage;
  private readonly tlsSocket: TLSSocket | null;
  /** With TLS, the node ids the peer's certificate names (known once the handshake is done). */
  private certifiedIds: readonly NodeId[] | null = null;
  private readonly decoder: FrameDecoder;
  private readonly challenge = newChallenge();
  private peerChallenge: Uint8Array | null = null;
  private readonly handshakeTimer: ReturnType<typeof setTimeout>;

  constructor(private readonly options: ConnectionOptions) {
    this.peer = options.expectedPeer;
    this.decoder = new FrameDecoder(options.frameBytesMax);
    const socket = options.socket;
    this.tlsSocket = socket instanceof TLSSocket ? socket : null;
    this.stage = options.role === 'listener' ? 'await-hello' : this.tlsSocket !== null ? 'await-tls' : 'await-reply';
    if (this.tlsSocket !== null && options.role === 'listener') {
      // The transport hands over only sockets that passed verification against the CA.
      assert.ok(this.tlsSocket.authorized, 'an inbound TLS socket must be authorized before it becomes a connection');
      this.certifiedIds = certificateNodeIds(this.tlsSocket.getPeerCertificate().subjectaltname);
    }
    socket.setNoDelay(true);
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('drain', () => options.onDrain(this));
    socket.on('error', (error: Error) => this.onSocketError(error));
    socket.on('close', () => this.close('socket closed'));
    // With TLS this also bounds the dialer's TLS handshake; the listener's has its own limit.
    this.handshakeTimer = setTimeout(() => this.reject('handshake not finished in time', this.stage === 'await-tls' ? 'tls' : 'protocol'), options.handshakeTimeoutMs);
    if (this.stage === 'await-tls') socket.once('secureConnect', () => this.onSecureConnect());
    else if (options.role === 'dialer') this.sendHello();
  }

  get isOpen(): boolean {
    return this.stage === 'open';
  }

  /** Writes one envelope payload; false means the socket is above its high-water mark. */
  sendPayload(payload: Uint8Array): boolean {
    if (this.stage !== 'open') return false;
    this.options.metrics.framesSent += 1;
    this.options.metrics.bytesSent += payload.length + 4;
    return this.options.socket.write(encodeFrame(payload));
  }

  cork(): void {
    this.options.socket.cork();
  }

  uncork(): void {
    this.options.socket.uncork();
  }

  get writable(): boolean {
    return this.stage === 'open' && !this.options.socket.writableNeedDrain;
  }

  close(reason: string): void {
    if (this.stage === 'closed') return;
    const opened = this.stage === 'open';
    this.stage = 'closed';
    clearTimeout(this.handshakeTimer);
    this.options.socket.destroy();
    this.options.onClose(this, opened, reason);
  }

  private writeValue(value: unknown): void {
    this.options.socket.write(encodeFrame(encodePayload(value)));
  }

  private sendHello(): void {
    this.writeValue({ hs: 'hello', version: PROTOCOL_VERSION, cluster: this.options.cluster, node: this.options.self, challenge: this.challenge });
  }

  /**
   * The dialer's TLS handshake is done. node:tls already refused a certificate the CA did
   * not sign or that does not name the node dialed (rejectUnauthorized and the identity
   * check); both are checked again here because everything after trusts them.
   */
  private onSecureConnect(): void {
    if (this.stage !== 'await-tls') return;
    const socket = this.tlsSocket;
    const expected = this.options.expectedPeer;
    // Only a dialer over TLS waits in 'await-tls' (see the constructor): it knows whom it called.
    assert.ok(socket !== null && expected !== null, 'a TLS dialer has its socket and its peer');
    if (!socket.authorized) return this.reject(`peer certificate not verified: ${String(socket.authorizationError)}`, 'tls');
    const named = certificateNodeIds(socket.getPeerCertificate().subjectaltname);
    if (!named.includes(expected)) return this.reject(identityMismatch(named, expected), 'tls');
    this.certifiedIds = named;
    this.stage = 'await-reply';
    this.sendHello();
  }

  private onSocketError(error: Error): void {
    // node:tls sets authorizationError when it refused the peer's certificate itself.
    if (this.stage === 'await-tls' && this.tlsSocket?.authorizationError) {
      return this.reject(`peer certificate refused: ${String(this.tlsSocket.authorizationError)}`, 'tls');
    }
    const code = 'code' in error ? error.code : undefined;
    if (this.tlsSocket !== null && typeof code === 'string' && code.includes('_ALERT_')) {
      // The peer refused us in the TLS handshake (it counts that); say so louder than a drop.
      this.options.log('warn', 'peer refused the TLS handshake', { peer: this.peer, code });
    }
    this.close(`socket error: ${error.message}`);
  }

  private reject(reason: string, refusal: Refusal = 'protocol'): void {
    if (this.stage === 'closed') return;
    if (refusal === 'tls') this.options.metrics.tlsRefused += 1;
    else if (this.stage !== 'open') this.options.metrics.handshakeRejections += 1;
    else this.options.metrics.protocolErrors += 1;
    const remote = `${this.options.socket.remoteAddress ?? '?'}:${this.options.socket.remotePort ?? '?'}`;
    this.options.log('warn', 'closing peer connection', { peer: this.peer, remote, stage: this.stage, reason });
    this.close(reason);
  }

  private onData(chunk: Buffer): void {
    // node:tls delivers no application data before its handshake; never parse any anyway.
    if (this.stage === 'await-tls') return this.reject('data before the TLS handshake finished', 'tls');
    this.options.metrics.bytesReceived += chunk.length;
    const result = this.decoder.push(chunk);
    for (const frame of result.frames) {
      if (this.stage === 'closed') return;
      this.onFrame(frame);
    }
    if (!result.ok) this.reject(result.reason);
  }

  private onFrame(frame: Buffer): void {
    const decoded = decodePayload(frame);
    if (!decoded.ok) return this.reject(decoded.reason);
    switch (this.stage) {
      case 'await-tls':
        return this.reject('frame before the TLS handshake finished', 'tls');
      case 'await-hello':
        return this.onHello(decoded.value);
      case 'await-reply':
        return this.onReply(decoded.value);
      case 'await-finish':
        return this.onFinish(decoded.value);
      case 'open':
        return this.onEnvelopeValue(decoded.value);
      case 'closed':
        return;
    }
  }

  private onHello(value: unknown): void {
    const { cluster, key, self } = this.options;
    const hello = parseHello(value, cluster);
    if (!hello.ok) return this.reject(hello.reason);
    // With TLS the id a peer claims must be one its certificate names: holding the cluster
    // key and some node's certificate is not enough to speak as another node.
    if (this.certifiedIds !== null && !this.certifiedIds.includes(hello.value.node)) return this.reject(identityMismatch(this.certifiedIds, hello.value.node), 'tls');
    if (hello.value.node === self) return this.reject('peer claims our own node id');
    this.peer = hello.value.node;
    this.peerChallenge = hello.value.challenge;
    const ourProof = proof(key, 'listener', cluster, self, hello.value.node, hello.value.challenge, this.challenge);
    this.stage = 'await-finish';
    this.writeValue({ hs: 'reply', version: PROTOCOL_VERSION, cluster, node: self, challenge: this.challenge, proof: ourProof });
  }

  private onReply(value: unknown): void {
    const { cluster, key, self, expectedPeer } = this.options;
    const reply = parseReply(value, cluster);
    if (!reply.ok) return this.reject(reply.reason);
    if (reply.value.node !== expectedPeer) return this.reject(`dialed ${String(expectedPeer)} but ${reply.value.node} answered`);
    const expected = proof(key, 'listener', cluster, reply.value.node, self, this.challenge, reply.value.challenge);
    if (!proofMatches(expected, reply.value.proof)) return this.reject('peer does not hold the cluster key');
    this.writeValue({ hs: 'finish', proof: proof(key, 'dialer', cluster, self, reply.value.node, reply.value.challenge, this.challenge) });
    this.open();
  }

  private onFinish(value: unknown): void {
    const { cluster, key, self } = this.options;
    const finish = parseFinish(value);
    if (!finish.ok) return this.reject(finish.reason);
    const peer = this.peer;
    const peerChallenge = this.peerChallenge;
    // 'await-finish' follows only an accepted hello, which set both.
    assert.ok(peer !== null && peerChallenge !== null, 'the hello named the peer and its challenge');
    const expected = proof(key, 'dialer', cluster, peer, self, this.challenge, peerChallenge);
    if (!proofMatches(expected, finish.value.proof)) return this.reject('peer does not hold the cluster key');
    this.open();
  }

  private open(): void {
    clearTimeout(this.handshakeTimer);
    this.stage = 'open';
    this.options.onOpen(this);
  }

  private onEnvelopeValue(value: unknown): void {
    const checked = validateEnvelope(value);
    if (!checked.ok) return this.reject(`malformed envelope: ${checked.reason}`);
    const envelope = checked.value;
    const peer = this.peer;
    // An open connection knows its peer: the dialer called it, the listener read its hello.
    assert.ok(peer !== null, 'an open connection knows its peer');
    if (envelope.channel === 'raft') {
      // The handshake proved who is on the other end; a message may not claim otherwise.
      if (envelope.message.from !== peer) return this.reject(`raft message from ${envelope.message.from} on ${peer}'s connection`);
      if (envelope.message.to !== this.options.self) return this.reject(`raft message addressed to ${envelope.message.to}`);
    }
    this.options.metrics.framesReceived += 1;
    this.options.onEnvelope(peer, envelope);
  }
}
