// Small non-cryptographic hashes for trace fingerprints and applied-sequence digests.
// FNV-1a over 32 bits is enough: a collision could only hide a difference, never invent one.

export const HASH_SEED = 0x811c9dc5;

export function hashBytes(h: number, bytes: Uint8Array): number {
  for (let i = 0; i < bytes.length; i++) h = Math.imul(h ^ (bytes[i] as number), 0x01000193) >>> 0;
  return h;
}

export function hashString(h: number, text: string): number {
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 0x01000193) >>> 0;
  return h;
}

export function hashNumber(h: number, n: number): number {
  h = Math.imul(h ^ (n & 0xffff), 0x01000193) >>> 0;
  h = Math.imul(h ^ ((n >>> 16) & 0xffff), 0x01000193) >>> 0;
  return Math.imul(h ^ Math.floor(n / 0x1_0000_0000), 0x01000193) >>> 0;
}

export function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a === b) return true;
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
