import type { PeerHello } from './ports.js';

/** Addresses longer than this are not ours. */
const ADDRESS_CHARS_MAX = 300;

/** Checks a 'hello' body from a peer; null when it is not one. */
export function parsePeerHello(body: unknown): PeerHello | null {
  if (typeof body !== 'object' || body === null) return null;
  const rpc: unknown = Reflect.get(body, 'rpc');
  const http: unknown = Reflect.get(body, 'http');
  if (typeof rpc !== 'string' || rpc.length > ADDRESS_CHARS_MAX || typeof http !== 'string' || http.length > ADDRESS_CHARS_MAX) return null;
  return { rpc, http };
}
