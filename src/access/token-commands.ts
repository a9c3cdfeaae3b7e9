// The replicated token commands and the shape check of each. The state machine embeds these in
// its command union; a value decoded from the log is checked here before it is applied, so
// garbage becomes a Refused value, never a crash. Times come in the command (the proposing
// node's clock): nothing here reads a clock.
import { refused, type Refused } from './codes.js';
import { isMap } from '../guards/index.js';
import { isRole, type Role } from './roles.js';

/** Generated ids are 16 hex digits; the bootstrap token's id is `bootstrap`. */
export const TOKEN_ID_PATTERN = /^[a-z0-9][a-z0-9-]{0,39}$/;
/** Names are audit actors, shown in tables and logs: no spaces, no control characters. */
export const TOKEN_NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$/;
/** SHA-256 of the secret, lowercase hex. */
export const TOKEN_HASH_PATTERN = /^[0-9a-f]{64}$/;
/** Names no token may take: they are the actors of requests and commands that carry no token. */
export const RESERVED_TOKEN_NAMES: ReadonlySet<string> = new Set(['anonymous', 'system']);
/** The latest instant a command may carry (9999-12-31T23:59:59.999Z, as statemachine's limit). */
export const TIME_MS_MAX = 253402300799999;
export const BOOTSTRAP_TOKEN_ID = 'bootstrap';
export const BOOTSTRAP_TOKEN_NAME = 'bootstrap';
/** createdBy of a token that no request created (the bootstrap token). */
export const SYSTEM_ACTOR = 'system';

export type CreateTokenCommand = {
  readonly type: 'createToken';
  readonly id: string;
  readonly name: string;
  readonly role: Role;
  readonly hash: string;
  readonly createdAt: number;
  readonly expiresAt: number | null;
  /** The creating principal's name (`anonymous` in a cluster without tokens, `system` for the bootstrap token). */
  readonly createdBy: string;
};

export type RevokeTokenCommand = {
  readonly type: 'revokeToken';
  readonly id: string;
  /** The proposer's clock, as every statemachine command carries it; the registry does not need it. */
  readonly at?: number;
};

export type TokenCommand = CreateTokenCommand | RevokeTokenCommand;

type Raw = { readonly [field: string]: unknown };

/** A value checked field by field and rebuilt from the checked fields, or why it is not one. */
export type Checked<T> = { readonly ok: true; readonly value: T } | { readonly ok: false; readonly problem: string };

function problem(text: string): { readonly ok: false; readonly problem: string } {
  return { ok: false, problem: text };
}

function isTime(v: unknown): v is number {
  return typeof v === 'number' && Number.isSafeInteger(v) && v >= 0 && v <= TIME_MS_MAX;
}

function hasOnly(o: Raw, keys: readonly string[]): boolean {
  return Object.keys(o).every((k) => keys.includes(k));
}

export function isTokenId(v: unknown): v is string {
  return typeof v === 'string' && TOKEN_ID_PATTERN.test(v);
}

export function isTokenName(v: unknown): v is string {
  return typeof v === 'string' && TOKEN_NAME_PATTERN.test(v);
}

const CREATE_KEYS = ['type', 'id', 'name', 'role', 'hash', 'createdAt', 'expiresAt', 'createdBy'];

function readRevokeToken(o: Raw): Checked<RevokeTokenCommand> {
  if (!hasOnly(o, ['type', 'id', 'at'])) return problem('revokeToken has unknown fields');
  const { id, at } = o;
  if (at !== undefined && !isTime(at)) return problem('revokeToken.at is invalid');
  if (!isTokenId(id)) return problem('revokeToken needs a token id');
  return { ok: true, value: at === undefined ? { type: 'revokeToken', id } : { type: 'revokeToken', id, at } };
}

/** The fields of a createToken command (its `type` is the caller's to check), checked one by one. */
export function readCreateToken(o: Raw): Checked<CreateTokenCommand> {
  if (!hasOnly(o, CREATE_KEYS)) return problem('createToken has unknown fields');
  const { id, name, role, hash, createdAt, expiresAt, createdBy } = o;
  if (!isTokenId(id)) return problem('createToken.id is invalid');
  if (!isTokenName(name) || RESERVED_TOKEN_NAMES.has(name)) return problem('createToken.name is invalid or reserved');
  if (!isRole(role)) return problem('createToken.role is invalid');
  if (typeof hash !== 'string' || !TOKEN_HASH_PATTERN.test(hash)) return problem('createToken.hash must be 64 lowercase hex digits');
  if (!isTime(createdAt)) return problem('createToken.createdAt is invalid');
  if (expiresAt !== null && (!isTime(expiresAt) || expiresAt <= createdAt)) return problem('createToken.expiresAt must be null or after createdAt');
  if (!isTokenName(createdBy)) return problem('createToken.createdBy is invalid');
  return { ok: true, value: { type: 'createToken', id, name, role, hash, createdAt, expiresAt, createdBy } };
}

/** A decoded value as a token command, rebuilt from its checked fields, or why it is not one. */
export function readTokenCommand(value: unknown): Checked<TokenCommand> {
  if (!isMap(value)) return problem('not an object');
  if (value['type'] === 'revokeToken') return readRevokeToken(value);
  if (value['type'] !== 'createToken') return problem(`not a token command: ${JSON.stringify(String(value['type'])).slice(0, 64)}`);
  return readCreateToken(value);
}

/** Why a decoded value is not a token command, or null when it is one. */
export function tokenCommandProblem(value: unknown): string | null {
  const read = readTokenCommand(value);
  return read.ok ? null : read.problem;
}

/** The checked command (rebuilt from its checked fields), or INVALID_TOKEN_COMMAND. */
export function checkTokenCommand(value: unknown): { readonly ok: true; readonly command: TokenCommand } | Refused<'INVALID_TOKEN_COMMAND'> {
  const read = readTokenCommand(value);
  return read.ok ? { ok: true, command: read.value } : refused('INVALID_TOKEN_COMMAND', read.problem);
}
