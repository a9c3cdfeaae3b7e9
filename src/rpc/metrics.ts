/** Counters a transport keeps; the agent reads them for its metrics page. Plain numbers. */
export interface TransportMetrics {
  framesSent: number;
  /** Socket writes that carried frames (several frames of one turn share one write). */
  socketWrites: number;
  framesReceived: number;
  bytesSent: number;
  bytesReceived: number;
  /** Messages given to send() that never reached a socket, by reason. */
  framesDroppedQueueFull: number;
  framesDroppedUnknownPeer: number;
  framesDroppedTooLarge: number;
  framesDroppedConnectionLost: number;
  connectionAttempts: number;
  connectionFailures: number;
  connectionsAccepted: number;
  /** Inbound sockets refused because too many were open. */
  connectionsRefused: number;
  handshakeRejections: number;
  /**
   * Peer connections this node refused for TLS reasons: an inbound one that showed no
   * certificate, one the CA did not sign, did not speak TLS or did not finish in time; an
   * outbound one whose server certificate failed the same checks; and either side whose
   * certificate does not name the node it claims. Always 0 without TLS.
   */
  tlsRefused: number;
  /** Established connections closed because a peer sent something malformed. */
  protocolErrors: number;
}

export function newMetrics(): TransportMetrics {
  return {
    framesSent: 0,
    socketWrites: 0,
    framesReceived: 0,
    bytesSent: 0,
    bytesReceived: 0,
    framesDroppedQueueFull: 0,
    framesDroppedUnknownPeer: 0,
    framesDroppedTooLarge: 0,
    framesDroppedConnectionLost: 0,
    connectionAttempts: 0,
    connectionFailures: 0,
    connectionsAccepted: 0,
    connectionsRefused: 0,
    handshakeRejections: 0,
    tlsRefused: 0,
    protocolErrors: 0,
  };
}

export function framesDropped(metrics: TransportMetrics): number {
  return metrics.framesDroppedQueueFull + metrics.framesDroppedUnknownPeer + metrics.framesDroppedTooLarge + metrics.framesDroppedConnectionLost;
}

export type LogLevel = 'debug' | 'info' | 'warn' | 'error';
export type Log = (level: LogLevel, msg: string, fields: Readonly<Record<string, unknown>>) => void;
