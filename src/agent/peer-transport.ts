import { TcpTransport, isLoopbackAddress, parseHostPort, type Envelope, type TransportMetrics } from '../rpc/index.js';
import type { NodeId } from '../raft/index.js';
import type { Logger } from './logger.js';

export { isLoopbackAddress as isLoopbackHost };

export interface OpenedTransport {
  /** The address actually bound (port 0 resolved). */
  readonly address: string;
  send(to: NodeId, envelope: Envelope): void;
  setPeers(peers: ReadonlyMap<NodeId, string>): void;
  close(): Promise<void>;
  readonly tcp: TcpTransport;
}

export interface TransportOptions {
  readonly id: NodeId;
  readonly listen: string;
  readonly clusterKey: Uint8Array;
  readonly clusterId: string;
  readonly logger: Logger;
  readonly receive: (from: NodeId, envelope: Envelope) => void;
  readonly unreachable: (peer: NodeId) => void;
  /** Test hook (jepsen-like proxies): dial these peers here instead of their own address. */
  readonly dialMap?: ReadonlyMap<NodeId, string> | null;
}

/** The TCP transport, listening, with its log routed into the agent's logger. */
export async function openPeerTransport(options: TransportOptions): Promise<OpenedTransport> {
  const listen = parseHostPort(options.listen.replace(/:0$/, ':1'));
  if (listen === null) throw new Error(`not HOST:PORT: ${options.listen}`);
  const port = options.listen.endsWith(':0') ? 0 : listen.port;
  const tcp = new TcpTransport({
    id: options.id,
    clusterId: options.clusterId,
    key: options.clusterKey,
    onMessage: options.receive,
    onUnreachable: options.unreachable,
    log: (level, msg, fields) => options.logger[level === 'debug' ? 'debug' : level === 'info' ? 'info' : level === 'warn' ? 'warn' : 'error'](msg, fields),
  });
  const bound = await tcp.listen(listen.host, port);
  const host = bound.host.includes(':') ? `[${bound.host}]` : bound.host;
  return {
    address: `${host}:${bound.port}`,
    send: (to, envelope) => void tcp.send(to, envelope),
    setPeers: (peers) => tcp.setPeers(redirect(peers, options.dialMap ?? null)),
    close: () => tcp.close(),
    tcp,
  };
}

/** Peers whose id the dial map names are dialled at the mapped address; the rest as given. */
export function redirect(peers: ReadonlyMap<NodeId, string>, dialMap: ReadonlyMap<NodeId, string> | null): ReadonlyMap<NodeId, string> {
  if (dialMap === null) return peers;
  return new Map([...peers].map(([id, address]) => [id, dialMap.get(id) ?? address]));
}

/** The transport's counters as Prometheus counters (`chime_rpc_frames_sent_total`, ...). */
export function transportMetricLines(metrics: TransportMetrics): string[] {
  return Object.entries(metrics).flatMap(([name, value]) => {
    const metric = `chime_rpc_${name.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`)}_total`;
    return [`# TYPE ${metric} counter`, `${metric} ${value}`];
  });
}
