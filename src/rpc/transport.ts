import type { NodeId } from '../raft/index.js';
import type { Envelope } from './envelope.js';
import type { TransportMetrics } from './metrics.js';

/** What the agent needs from a transport; TcpTransport and InMemoryTransport both give it. */
export interface Transport {
  readonly id: NodeId;
  readonly metrics: TransportMetrics;
  /** The current peers and their `host:port`; replaces the previous map. */
  setPeers(peers: ReadonlyMap<NodeId, string>): void;
  /** Queues `envelope` for `to`. False when it was dropped (a full queue, an unknown peer). */
  send(to: NodeId, envelope: Envelope): boolean;
  close(): Promise<void>;
}

export interface TransportHandlers {
  /** A validated envelope from an authenticated peer. */
  readonly onMessage: (from: NodeId, envelope: Envelope) => void;
  /** A peer could not be reached or its connection broke; the agent tells Raft. */
  readonly onUnreachable?: (peer: NodeId) => void;
  /**
   * A connection `peer` had opened to this node closed: what it had queued on it and not yet
   * written is gone (its answers to this node's requests among them).
   */
  readonly onInboundLost?: (peer: NodeId) => void;
}
