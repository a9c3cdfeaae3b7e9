import { Buffer } from 'node:buffer';
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import type { NodeId } from '../raft/index.js';
import { isNodeId, type Validated } from './envelope.js';
import { isMap } from '../guards/index.js';

/** Bumped on any incompatible change to frames, handshake or envelopes. */
export const PROTOCOL_VERSION = 1;
export const CHALLENGE_BYTES = 32;
const PROOF_BYTES = 32;
const CLUSTER_ID_CHARS_MAX = 64;

/**
 * The three handshake frames. The dialer opens with its challenge; the listener answers
 * with its own challenge and a proof over the dialer's; the dialer closes with a proof
 * over the listener's. Proofs name the role, so one side's proof cannot be replayed as
 * the other's, and the ids, so a proof is bound to this pair of nodes.
 */
export interface Hello {
  readonly hs: 'hello';
  readonly version: number;
  readonly cluster: string;
  readonly node: NodeId;
  readonly challenge: Uint8Array;
}

export interface HelloReply extends Omit<Hello, 'hs'> {
  readonly hs: 'reply';
  readonly proof: Uint8Array;
}

export interface Finish {
  readonly hs: 'finish';
  readonly proof: Uint8Array;
}

export type Role = 'dialer' | 'listener';

export function newChallenge(): Uint8Array {
  return randomBytes(CHALLENGE_BYTES);
}

/** HMAC-SHA256 by `prover` over the verifier's challenge, its own, the cluster and both ids. */
export function proof(key: Uint8Array, role: Role, cluster: string, prover: NodeId, verifier: NodeId, verifierChallenge: Uint8Array, proverChallenge: Uint8Array): Uint8Array {
  const hmac = createHmac('sha256', key);
  hmac.update(JSON.stringify(['chime-rpc', PROTOCOL_VERSION, role, cluster, prover, verifier]));
  hmac.update(verifierChallenge);
  hmac.update(proverChallenge);
  return hmac.digest();
}

export function proofMatches(expected: Uint8Array, received: Uint8Array): boolean {
  return received.length === expected.length && timingSafeEqual(Buffer.from(expected), Buffer.from(received));
}

function fields(value: unknown, kind: string): Record<string, unknown> | null {
  return isMap(value) && value['hs'] === kind ? value : null;
}

/** Checks the common part of a hello or reply against what this node expects. */
function checkHello(f: Record<string, unknown>, cluster: string): Validated<Omit<Hello, 'hs'>> {
  const { version, node, challenge } = f;
  if (version !== PROTOCOL_VERSION) return { ok: false, reason: `protocol version ${String(version)} is not ${PROTOCOL_VERSION}` };
  if (typeof f['cluster'] !== 'string' || f['cluster'].length > CLUSTER_ID_CHARS_MAX) return { ok: false, reason: 'cluster id missing' };
  if (f['cluster'] !== cluster) return { ok: false, reason: `cluster id ${JSON.stringify(f['cluster'])} is not ours` };
  if (!isNodeId(node)) return { ok: false, reason: 'node id missing or malformed' };
  if (!(challenge instanceof Uint8Array) || challenge.length !== CHALLENGE_BYTES) return { ok: false, reason: 'challenge missing or of the wrong size' };
  return { ok: true, value: { version, cluster, node, challenge } };
}

export function parseHello(value: unknown, cluster: string): Validated<Hello> {
  const f = fields(value, 'hello');
  if (f === null) return { ok: false, reason: 'expected a hello frame' };
  const checked = checkHello(f, cluster);
  return checked.ok ? { ok: true, value: { hs: 'hello', ...checked.value } } : checked;
}

export function parseReply(value: unknown, cluster: string): Validated<HelloReply> {
  const f = fields(value, 'reply');
  if (f === null) return { ok: false, reason: 'expected a hello reply frame' };
  const checked = checkHello(f, cluster);
  if (!checked.ok) return checked;
  const received = f['proof'];
  if (!(received instanceof Uint8Array) || received.length !== PROOF_BYTES) return { ok: false, reason: 'proof missing' };
  return { ok: true, value: { hs: 'reply', ...checked.value, proof: received } };
}

export function parseFinish(value: unknown): Validated<Finish> {
  const f = fields(value, 'finish');
  if (f === null) return { ok: false, reason: 'expected a finish frame' };
  const received = f['proof'];
  if (!(received instanceof Uint8Array) || received.length !== PROOF_BYTES) return { ok: false, reason: 'proof missing' };
  return { ok: true, value: { hs: 'finish', proof: received } };
}
