// The rpc folder's public surface.
export { TcpTransport } from './tcp-transport.js';
export type { TcpTransportOptions } from './tcp-transport.js';
export { NODE_ID_URI_SCHEME } from './peer-tls.js';
export type { PeerTlsOptions } from './peer-tls.js';
export { MemoryNetwork, InMemoryTransport } from './memory-transport.js';
export type { LinkFilter, LinkVerdict, MemoryNetworkOptions } from './memory-transport.js';
export type { Transport, TransportHandlers } from './transport.js';
export { APP_CHANNELS, validateEnvelope, isNodeId } from './envelope.js';
export type { AppChannel, AppEnvelope, Envelope, RaftEnvelope } from './envelope.js';
export { newMetrics, framesDropped } from './metrics.js';
export type { Log, LogLevel, TransportMetrics } from './metrics.js';
export { isLoopbackAddress, parseHostPort } from './address.js';
export type { HostPort } from './address.js';
export { FRAME_BYTES_MAX_DEFAULT } from './frame.js';
export { PROTOCOL_VERSION } from './handshake.js';
export { BACKOFF_DEFAULT } from './backoff.js';
export type { BackoffPolicy } from './backoff.js';

/**
 * The key peers use when no --cluster-key-file is given. Public by design, so the agent
 * must refuse to listen on anything but loopback with it (see isLoopbackAddress).
 */
export const DEVELOPMENT_CLUSTER_KEY: Uint8Array = new TextEncoder().encode('chime-development-key-not-secret');
