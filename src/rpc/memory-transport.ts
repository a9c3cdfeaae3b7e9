import assert from 'node:assert/strict';
import { clearTimeout, setTimeout } from 'node:timers';
import type { NodeId } from '../raft/index.js';
import { decodePayload, encodePayload } from './codec.js';
import { validateEnvelope, type Envelope } from './envelope.js';
import { FRAME_BYTES_MAX_DEFAULT } from './frame.js';
import { newMetrics, type TransportMetrics } from './metrics.js';
import type { Transport, TransportHandlers } from './transport.js';

/** What a fault filter decides for one message on one directed link. */
export type LinkVerdict = { readonly action: 'deliver'; readonly delayMs: number } | { readonly action: 'drop' };

export type LinkFilter = (from: NodeId, to: NodeId, envelope: Envelope) => LinkVerdict;

export interface MemoryNetworkOptions {
  /** Messages in flight across the whole network before new ones are dropped. */
  readonly inFlightMax?: number;
  readonly frameBytesMax?: number;
}

interface LinkFaults {
  dropRate: number;
  delayMs: number;
  blocked: boolean;
}

/**
 * A network of InMemoryTransports in one process, for agent tests without sockets.
 * Messages go through the same msgpack encoding and validation as on the wire, are
 * delivered asynchronously, and can be dropped, delayed or blocked per directed link.
 */
export class MemoryNetwork {
  private readonly nodes = new Map<NodeId, InMemoryTransport>();
  private readonly links = new Map<string, LinkFaults>();
  private readonly timers = new Set<ReturnType<typeof setTimeout>>();
  private filter: LinkFilter | null = null;
  private readonly inFlightMax: number;
  readonly frameBytesMax: number;

  /** `random` in [0, 1) decides random drops; pass a seeded one for reproducible tests. */
  constructor(
    private readonly random: () => number = Math.random,
    options: MemoryNetworkOptions = {},
  ) {
    this.inFlightMax = options.inFlightMax ?? 100_000;
    this.frameBytesMax = options.frameBytesMax ?? FRAME_BYTES_MAX_DEFAULT;
  }

  join(id: NodeId, handlers: TransportHandlers): InMemoryTransport {
    assert.ok(!this.nodes.has(id), `${id} already joined`);
    const transport = new InMemoryTransport(id, this, handlers);
    this.nodes.set(id, transport);
    return transport;
  }

  /** Drops each message from → to with probability `rate`. */
  setDropRate(from: NodeId, to: NodeId, rate: number): void {
    assert.ok(rate >= 0 && rate <= 1);
    this.link(from, to).dropRate = rate;
  }

  setDelay(from: NodeId, to: NodeId, delayMs: number): void {
    assert.ok(delayMs >= 0);
    this.link(from, to).delayMs = delayMs;
  }

  /** Blocks the directed link from → to (call twice for a symmetric cut). */
  partition(from: NodeId, to: NodeId): void {
    this.link(from, to).blocked = true;
  }

  /** Cuts `group` off from every other node, both ways. */
  isolate(group: readonly NodeId[]): void {
    for (const a of group) for (const b of this.nodes.keys()) if (!group.includes(b)) {
      this.partition(a, b);
      this.partition(b, a);
    }
  }

  /** Removes every drop, delay and partition (the filter too). */
  heal(): void {
    this.links.clear();
    this.filter = null;
  }

  /** A custom per-message decision, applied after the link faults. */
  setFilter(filter: LinkFilter | null): void {
    this.filter = filter;
  }

  leave(id: NodeId): void {
    this.nodes.delete(id);
  }

  close(): void {
    for (const timer of this.timers) clearTimeout(timer);
    this.timers.clear();
  }

  /** Decides the fate of one message; false when it was dropped. */
  route(from: NodeId, to: NodeId, payload: Uint8Array, envelope: Envelope): boolean {
    const faults = this.links.get(`${from}>${to}`);
    if (faults?.blocked === true) return false;
    if (faults !== undefined && faults.dropRate > 0 && this.random() < faults.dropRate) return false;
    const verdict = this.filter?.(from, to, envelope) ?? { action: 'deliver', delayMs: 0 };
    if (verdict.action === 'drop' || this.timers.size >= this.inFlightMax) return false;
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      this.nodes.get(to)?.deliver(from, payload);
    }, (faults?.delayMs ?? 0) + verdict.delayMs);
    this.timers.add(timer);
    return true;
  }

  hasNode(id: NodeId): boolean {
    return this.nodes.has(id);
  }

  private link(from: NodeId, to: NodeId): LinkFaults {
    const key = `${from}>${to}`;
    let faults = this.links.get(key);
    if (faults === undefined) {
      faults = { dropRate: 0, delayMs: 0, blocked: false };
      this.links.set(key, faults);
    }
    return faults;
  }
}

/** The Transport interface over a MemoryNetwork. */
export class InMemoryTransport implements Transport {
  readonly metrics: TransportMetrics = newMetrics();
  private peers = new Set<NodeId>();
  private closed = false;

  constructor(
    readonly id: NodeId,
    private readonly network: MemoryNetwork,
    private readonly handlers: TransportHandlers,
  ) {}

  setPeers(peers: ReadonlyMap<NodeId, string>): void {
    this.peers = new Set([...peers.keys()].filter((id) => id !== this.id));
  }

  send(to: NodeId, envelope: Envelope): boolean {
    if (this.closed || !this.peers.has(to)) {
      this.metrics.framesDroppedUnknownPeer += 1;
      return false;
    }
    const payload = encodePayload(envelope);
    if (payload.length > this.network.frameBytesMax) {
      this.metrics.framesDroppedTooLarge += 1;
      return false;
    }
    if (!this.network.hasNode(to)) {
      this.metrics.framesDroppedConnectionLost += 1;
      this.handlers.onUnreachable?.(to);
      return true;
    }
    this.metrics.framesSent += 1;
    this.metrics.bytesSent += payload.length;
    if (!this.network.route(this.id, to, payload, envelope)) this.metrics.framesDroppedConnectionLost += 1;
    // A dropped message looks sent to the caller, as a lost TCP segment would.
    return true;
  }

  deliver(from: NodeId, payload: Uint8Array): void {
    if (this.closed) return;
    const decoded = decodePayload(payload);
    assert.ok(decoded.ok, 'the in-memory network carries only payloads it encoded');
    const checked = validateEnvelope(decoded.value);
    if (!checked.ok) {
      this.metrics.protocolErrors += 1;
      return;
    }
    this.metrics.framesReceived += 1;
    this.metrics.bytesReceived += payload.length;
    this.handlers.onMessage(from, checked.value);
  }

  async close(): Promise<void> {
    this.closed = true;
    this.network.leave(this.id);
  }
}
