import { isIP } from 'node:net';

/**
 * True for addresses only this machine can reach. Without a cluster key the agent uses a
 * fixed development key, which must never be exposed beyond the host.
 */
export function isLoopbackAddress(host: string): boolean {
  const bare = host.startsWith('[') && host.endsWith(']') ? host.slice(1, -1) : host;
  if (bare === 'localhost') return true;
  if (isIP(bare) === 4) return bare.startsWith('127.');
  if (isIP(bare) === 6) {
    const lower = bare.toLowerCase();
    return lower === '::1' || lower === '0:0:0:0:0:0:0:1' || /^::ffff:127\.\d+\.\d+\.\d+$/.test(lower);
  }
  return false;
}

export interface HostPort {
  readonly host: string;
  readonly port: number;
}

/** Parses `host:port` or `[v6]:port`; null when malformed. */
export function parseHostPort(address: string): HostPort | null {
  const match = /^(?:\[([^\]]+)\]|([^:[\]]+)):(\d{1,5})$/.exec(address);
  if (match === null) return null;
  const host = match[1] ?? match[2];
  const port = Number(match[3]);
  if (host === undefined || port < 1 || port > 65_535) return null;
  return { host, port };
}
