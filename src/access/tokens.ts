// Token secrets at the edge: making them, hashing them, reading them from a request, and the
// bootstrap file. Randomness lives here and never in the registry: a new token is generated
// on the API node and only its hash enters the log.
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { itemAt } from './assert.js';
import { refused, type FieldError, type Refused } from './codes.js';
import { isMap } from '../guards/index.js';
import { isRole, type Role } from './roles.js';
import {
  BOOTSTRAP_TOKEN_ID, BOOTSTRAP_TOKEN_NAME, RESERVED_TOKEN_NAMES, SYSTEM_ACTOR, TIME_MS_MAX, TOKEN_NAME_PATTERN,
  type CreateTokenCommand,
} from './token-commands.js';

/** Every generated secret starts so: a leaked token is found by `grep -E 'chime_[A-Za-z0-9_-]{43}'` and by secret scanners. */
export const TOKEN_PREFIX = 'chime_';
export const TOKEN_SECRET_BYTES = 32;
/** A generated secret: the prefix and 43 base64url characters (256 bits). */
export const GENERATED_TOKEN_PATTERN = /^chime_[A-Za-z0-9_-]{43}$/;
/** The longest Authorization header read; anything longer is refused before it is parsed. */
export const AUTHORIZATION_CHARS_MAX = 512;
export const BOOTSTRAP_TOKEN_CHARS_MIN = 32;
/** A bootstrap secret must still fit in an Authorization header. */
export const BOOTSTRAP_TOKEN_CHARS_MAX = AUTHORIZATION_CHARS_MAX - 'Bearer '.length;
/** RFC 6750's b64token: the characters a bearer token may hold. */
const B64TOKEN = /^[A-Za-z0-9\-._~+/]+=*$/;
/** Query parameters that would carry a token into access logs, proxies and browser history. */
const QUERY_TOKEN_NAMES: ReadonlySet<string> = new Set(['token', 'access_token']);
export const TOKEN_TTL_MS_MIN = 1000;
export const TOKEN_TTL_MS_MAX = 10 * 365 * 24 * 3600 * 1000;

export type GeneratedToken = { readonly id: string; readonly secret: string; readonly hash: string };

/** A new token: a random id (shown in lists, safe to log) and a 256-bit secret (shown once). */
export function generateToken(): GeneratedToken {
  const secret = TOKEN_PREFIX + randomBytes(TOKEN_SECRET_BYTES).toString('base64url');
  return { id: randomBytes(8).toString('hex'), secret, hash: hashToken(secret) };
}

/**
 * SHA-256 of the secret, hex. A plain hash (no salt, no slow KDF) is right here: generated
 * secrets carry 256 bits and bootstrap secrets at least 32 characters, so there is nothing to
 * brute-force, and the hash must be the same on every node to serve as a lookup key.
 */
export function hashToken(secret: string): string {
  return createHash('sha256').update(secret, 'utf8').digest('hex');
}

/** Compares two hex hashes in time independent of where they differ. */
export function hashesEqual(a: string, b: string): boolean {
  const x = Buffer.from(a, 'hex');
  const y = Buffer.from(b, 'hex');
  return x.length === y.length && x.length > 0 && timingSafeEqual(x, y);
}

/**
 * The secret of an `Authorization: Bearer …` header. No header is TOKEN_MISSING; anything
 * else that is not exactly one Bearer credential of b64token characters, at most
 * AUTHORIZATION_CHARS_MAX long, is TOKEN_MALFORMED.
 */
export function parseAuthorization(header: string | readonly string[] | undefined): { readonly ok: true; readonly secret: string } | Refused<'TOKEN_MISSING' | 'TOKEN_MALFORMED'> {
  if (header === undefined || header === '') return refused('TOKEN_MISSING', 'this request needs an Authorization: Bearer token');
  if (typeof header !== 'string') return refused('TOKEN_MALFORMED', 'send one Authorization header, not several');
  // The length check comes first so no regex ever runs over an unbounded value.
  if (header.length > AUTHORIZATION_CHARS_MAX) return refused('TOKEN_MALFORMED', `the Authorization header is longer than ${AUTHORIZATION_CHARS_MAX} characters`);
  const m = /^([A-Za-z][A-Za-z0-9!#$%&'*+.^_`|~-]*)(?: +(.*))?$/.exec(header.trim());
  if (m === null) return refused('TOKEN_MALFORMED', 'the Authorization header is not "Bearer TOKEN"');
  const scheme = itemAt(m, 1);
  if (scheme.toLowerCase() !== 'bearer') return refused('TOKEN_MALFORMED', `the Authorization scheme must be Bearer, not ${scheme.slice(0, 20)}`);
  const secret = m[2] ?? '';
  if (!B64TOKEN.test(secret)) return refused('TOKEN_MALFORMED', 'the bearer token is empty or holds characters a token cannot have (spaces, quotes, line breaks?)');
  return { ok: true, secret };
}

/**
 * A request that carries a token in its query string (`?token=`, `?access_token=`) is
 * refused whatever else it is: URLs end up in access logs, proxy logs and browser history,
 * so the caller must learn at once that the token is exposed and belongs in the header.
 */
export function queryTokenProblem(url: string): Refused<'TOKEN_IN_QUERY'> | null {
  const q = url.indexOf('?');
  if (q === -1) return null;
  for (const name of new URLSearchParams(url.slice(q + 1)).keys()) {
    if (QUERY_TOKEN_NAMES.has(name.toLowerCase())) {
      return refused('TOKEN_IN_QUERY', `a token in the query string (${name}=) is refused: URLs are logged; send it as Authorization: Bearer TOKEN, and treat this token as leaked`);
    }
  }
  return null;
}

/**
 * The secret of an --admin-token-file: one line, surrounding whitespace (a trailing newline)
 * not part of it, BOOTSTRAP_TOKEN_CHARS_MIN to BOOTSTRAP_TOKEN_CHARS_MAX characters that a
 * bearer header can carry.
 */
export function bootstrapTokenFromFile(content: string): { readonly ok: true; readonly secret: string; readonly hash: string } | Refused<'BOOTSTRAP_TOKEN_INVALID'> {
  const secret = content.trim();
  if (secret === '') return refused('BOOTSTRAP_TOKEN_INVALID', 'the admin token file is empty');
  if (/[\r\n]/.test(secret)) return refused('BOOTSTRAP_TOKEN_INVALID', 'the admin token file must hold one line');
  if (secret.length < BOOTSTRAP_TOKEN_CHARS_MIN) return refused('BOOTSTRAP_TOKEN_INVALID', `the admin token is ${secret.length} characters; it must be at least ${BOOTSTRAP_TOKEN_CHARS_MIN}`);
  if (secret.length > BOOTSTRAP_TOKEN_CHARS_MAX) return refused('BOOTSTRAP_TOKEN_INVALID', `the admin token must be at most ${BOOTSTRAP_TOKEN_CHARS_MAX} characters`);
  if (!B64TOKEN.test(secret)) return refused('BOOTSTRAP_TOKEN_INVALID', 'the admin token may hold only letters, digits and - . _ ~ + / (then = padding): it must fit in an Authorization: Bearer header');
  return { ok: true, secret, hash: hashToken(secret) };
}

/**
 * The command that makes the bootstrap token. Its id and name are fixed, so every node of
 * the bootstrap proposes the same token and the second proposal is a no-op. `createdAtMs`
 * must be the same on every node if the command is applied without the log (part of an
 * initial state); through the log, the proposer's clock is fine.
 */
export function bootstrapTokenCommand(content: string, createdAtMs: number): { readonly ok: true; readonly command: CreateTokenCommand } | Refused<'BOOTSTRAP_TOKEN_INVALID'> {
  const parsed = bootstrapTokenFromFile(content);
  if (!parsed.ok) return parsed;
  return {
    ok: true,
    command: { type: 'createToken', id: BOOTSTRAP_TOKEN_ID, name: BOOTSTRAP_TOKEN_NAME, role: 'admin', hash: parsed.hash, createdAt: createdAtMs, expiresAt: null, createdBy: SYSTEM_ACTOR },
  };
}

export type TokenRequest = { readonly name: string; readonly role: Role; readonly ttlMs: number | null };

/**
 * Checks a POST /v1/tokens body `{name, role, ttl?}`. The duration parser is passed in (the
 * API has statemachine's parseDurationMs) so that durations read the same everywhere.
 */
export function validateTokenRequest(body: unknown, parseDurationMs: (text: string) => number | string): { readonly ok: true; readonly request: TokenRequest } | Refused<'INVALID_TOKEN_REQUEST'> {
  if (!isMap(body)) return refused('INVALID_TOKEN_REQUEST', 'the body must be a JSON object', [{ path: '', message: 'expected an object' }]);
  const { name, role, ttl } = body;
  const errors: FieldError[] = Object.keys(body).filter((k) => !['name', 'role', 'ttl'].includes(k)).map((k) => ({ path: k, message: 'unknown field' }));
  if (typeof name !== 'string' || !TOKEN_NAME_PATTERN.test(name)) errors.push({ path: 'name', message: `must match ${TOKEN_NAME_PATTERN.source}` });
  else if (RESERVED_TOKEN_NAMES.has(name)) errors.push({ path: 'name', message: `${name} is reserved` });
  if (!isRole(role)) errors.push({ path: 'role', message: 'must be admin, operator, viewer or worker' });
  let ttlMs: number | null = null;
  if (ttl !== undefined && ttl !== null) {
    const parsed = typeof ttl === 'string' ? parseDurationMs(ttl) : 'must be a duration such as 30m or 24h';
    if (typeof parsed === 'string') errors.push({ path: 'ttl', message: parsed });
    else if (parsed < TOKEN_TTL_MS_MIN || parsed > TOKEN_TTL_MS_MAX) errors.push({ path: 'ttl', message: 'must be from 1s to 3650 days' });
    else ttlMs = parsed;
  }
  // A name that is not a string, or a role that is not one, recorded an error above; the
  // checks are repeated so the types follow.
  if (errors.length > 0 || typeof name !== 'string' || !isRole(role)) return refused('INVALID_TOKEN_REQUEST', errors.map((e) => `${e.path}: ${e.message}`).join('; '), errors);
  return { ok: true, request: { name, role, ttlMs } };
}

/**
 * A new token for a checked request: the command to propose and the secret to answer with
 * once it is committed (the only time the secret is ever shown). `nowMs` is the proposing
 * node's clock; expiry is stamped into the command so that every replica agrees on it.
 */
export function newTokenCommand(request: TokenRequest, createdBy: string, nowMs: number): { readonly command: CreateTokenCommand; readonly secret: string } {
  const token = generateToken();
  const expiresAt = request.ttlMs === null ? null : Math.min(TIME_MS_MAX, nowMs + request.ttlMs);
  return {
    secret: token.secret,
    command: { type: 'createToken', id: token.id, name: request.name, role: request.role, hash: token.hash, createdAt: nowMs, expiresAt, createdBy },
  };
}
