// The tokens of a cluster, as a piece of the replicated state. The state machine holds one
// TokenRegistry and calls apply() with committed token commands; every replica that applies
// the same commands holds the same registry and writes the same snapshot. So: no clock (time
// is in the command, expiry is judged against a `nowMs` the caller passes), no randomness,
// iteration only in insertion order (the log's) or an explicit sort, and a fixed upper bound.
import { assert, itemAt } from './assert.js';
import { refused, type Refused } from './codes.js';
import { isRecord } from '../guards/index.js';
import { isRole, type Role } from './roles.js';
import { readCreateToken, readTokenCommand, type CreateTokenCommand, type RevokeTokenCommand } from './token-commands.js';

export type TokenRecord = {
  readonly id: string;
  readonly name: string;
  readonly role: Role;
  readonly createdAt: number;
  readonly expiresAt: number | null;
  readonly createdBy: string;
  /** SHA-256 of the secret, hex. Stays inside the state machine and authorize: never in an answer. */
  readonly hash: string;
};

/** What the API may show of a token: everything but the hash. */
export type TokenView = Omit<TokenRecord, 'hash'>;

export type TokenRegistryLimits = { readonly tokensMax: number };
export const TOKENS_MAX_DEFAULT = 1000;
export const DEFAULT_TOKEN_LIMITS: TokenRegistryLimits = Object.freeze({ tokensMax: TOKENS_MAX_DEFAULT });

export const TOKEN_LIST_LIMIT_DEFAULT = 100;
export const TOKEN_LIST_LIMIT_MAX = 1000;

export type TokenApplyResult =
  /** `created` is false when the same token (id and hash) was already there: a re-proposal settles quietly. */
  | { readonly ok: true; readonly kind: 'tokenCreated'; readonly created: boolean; readonly token: TokenView; readonly droppedIds: readonly string[] }
  | { readonly ok: true; readonly kind: 'tokenRevoked'; readonly token: TokenView }
  | Refused<'INVALID_TOKEN_COMMAND' | 'TOKEN_EXISTS' | 'TOKEN_NAME_TAKEN' | 'TOKEN_NOT_FOUND' | 'TOO_MANY_TOKENS' | 'LAST_ADMIN_TOKEN' | 'FIRST_TOKEN_NOT_ADMIN'>;

export type TokenPage = { readonly ok: true; readonly items: TokenView[]; readonly nextCursor: string | null };

/** One token as a plain array (msgpack-friendly and compact): [id, name, role, hash, createdAt, expiresAt, createdBy]. */
export type TokenRow = readonly [string, string, Role, string, number, number | null, string];
export type TokenRegistrySnapshot = { readonly v: 1; readonly tokens: readonly TokenRow[] };

export function tokenView(record: TokenRecord): TokenView {
  return { id: record.id, name: record.name, role: record.role, createdAt: record.createdAt, expiresAt: record.expiresAt, createdBy: record.createdBy };
}

/** A token that never expires and holds every right: while one exists, nobody is locked out. */
function isKeeper(record: TokenRecord): boolean {
  return record.role === 'admin' && record.expiresAt === null;
}

/**
 * Invariants (asserted by assertInvariants, checked on restore):
 * - byId, byHash and byName index the same records; ids, hashes and names are unique.
 * - size <= tokensMax.
 * - The registry is empty, or holds at least one keeper (an admin token without expiry).
 *   A cluster with tokens therefore never falls back to "no tokens, everyone is admin", and
 *   never locks its admins out: the first token must be a keeper, the last keeper cannot be
 *   revoked, and only expired tokens are ever dropped.
 */
export class TokenRegistry {
  private readonly byId = new Map<string, TokenRecord>();
  private readonly byHash = new Map<string, TokenRecord>();
  private readonly byName = new Map<string, TokenRecord>();
  private keeperCount = 0;

  private constructor(readonly limits: TokenRegistryLimits) {
    assert(Number.isSafeInteger(limits.tokensMax) && limits.tokensMax >= 1, 'tokensMax must be a positive integer');
  }

  static create(limits: TokenRegistryLimits = DEFAULT_TOKEN_LIMITS): TokenRegistry {
    return new TokenRegistry(limits);
  }

  /** Rebuilds a registry from snapshot(); a value that breaks a shape or an invariant is INVALID_SNAPSHOT. */
  static restore(value: unknown, limits: TokenRegistryLimits = DEFAULT_TOKEN_LIMITS): { readonly ok: true; readonly registry: TokenRegistry } | Refused<'INVALID_SNAPSHOT'> {
    if (!isRecord(value) || value['v'] !== 1) return refused('INVALID_SNAPSHOT', 'token snapshot: not version 1');
    const rows = value['tokens'];
    if (!Array.isArray(rows) || rows.length > limits.tokensMax) return refused('INVALID_SNAPSHOT', `token snapshot: tokens must be an array of at most ${limits.tokensMax}`);
    const registry = new TokenRegistry(limits);
    for (let i = 0; i < rows.length; i++) {
      const row: unknown = rows[i];
      if (!Array.isArray(row) || row.length !== 7) return refused('INVALID_SNAPSHOT', `token snapshot: row ${i} is not a 7-tuple`);
      const tuple: readonly unknown[] = row;
      const [id, name, role, hash, createdAt, expiresAt, createdBy] = tuple;
      const command = readCreateToken({ type: 'createToken', id, name, role, hash, createdAt, expiresAt, createdBy });
      if (!command.ok) return refused('INVALID_SNAPSHOT', `token snapshot: row ${i}: ${command.problem}`);
      const record = recordOf(command.value);
      if (registry.byId.has(record.id) || registry.byHash.has(record.hash) || registry.byName.has(record.name)) {
        return refused('INVALID_SNAPSHOT', `token snapshot: row ${i} repeats an id, a hash or a name`);
      }
      registry.insert(record);
    }
    if (registry.byId.size > 0 && registry.keeperCount === 0) return refused('INVALID_SNAPSHOT', 'token snapshot: tokens but no admin token without expiry');
    registry.assertInvariants();
    return { ok: true, registry };
  }

  /** Plain arrays in insertion order: the same registry always gives the same value. */
  snapshot(): TokenRegistrySnapshot {
    const tokens: TokenRow[] = [];
    for (const t of this.byId.values()) tokens.push([t.id, t.name, t.role, t.hash, t.createdAt, t.expiresAt, t.createdBy]);
    return { v: 1, tokens };
  }

  get size(): number {
    return this.byId.size;
  }

  /** Once true it stays true (see the invariants): every /v1 request then needs a token. */
  get hasTokens(): boolean {
    return this.byId.size > 0;
  }

  /** The record whose secret hashes to `hash`, expired or not (authorize judges expiry). */
  lookupHash(hash: string): TokenRecord | null {
    return this.byHash.get(hash) ?? null;
  }

  get(id: string): TokenView | null {
    const record = this.byId.get(id);
    return record === undefined ? null : tokenView(record);
  }

  /** Applies a command decoded from the log; a value that is not a token command is refused, not thrown. */
  apply(command: unknown): TokenApplyResult {
    const read = readTokenCommand(command);
    if (!read.ok) return refused('INVALID_TOKEN_COMMAND', read.problem);
    const checked = read.value;
    return checked.type === 'createToken' ? this.applyCreate(checked) : this.applyRevoke(checked);
  }

  private applyCreate(command: CreateTokenCommand): TokenApplyResult {
    const same = this.byId.get(command.id);
    if (same !== undefined) {
      // A proposal retried after a leader change arrives twice; the second is a no-op.
      if (same.hash === command.hash) return { ok: true, kind: 'tokenCreated', created: false, token: tokenView(same), droppedIds: [] };
      return refused('TOKEN_EXISTS', `a token with id ${command.id} exists`);
    }
    if (this.byHash.has(command.hash)) return refused('TOKEN_EXISTS', 'a token with this secret exists');
    if (this.byName.has(command.name)) return refused('TOKEN_NAME_TAKEN', `a token named ${command.name} exists; names identify actors in the audit log`);
    const record = recordOf(command);
    if (this.keeperCount === 0 && !isKeeper(record)) {
      return refused('FIRST_TOKEN_NOT_ADMIN', 'the first token must be an admin token without ttl: once a token exists every request needs one, so a lesser first token would lock every admin out');
    }
    const droppedIds = this.byId.size >= this.limits.tokensMax ? this.dropExpired(command.createdAt) : [];
    if (this.byId.size >= this.limits.tokensMax) return refused('TOO_MANY_TOKENS', `the cluster holds ${this.limits.tokensMax} tokens, the most it keeps; revoke some first`);
    this.insert(record);
    return { ok: true, kind: 'tokenCreated', created: true, token: tokenView(record), droppedIds };
  }

  private applyRevoke(command: RevokeTokenCommand): TokenApplyResult {
    const record = this.byId.get(command.id);
    if (record === undefined) return refused('TOKEN_NOT_FOUND', `token ${command.id} does not exist`);
    if (isKeeper(record) && this.keeperCount === 1) {
      return refused('LAST_ADMIN_TOKEN', `token ${command.id} is the last admin token without expiry; create another before revoking it`);
    }
    this.remove(record);
    return { ok: true, kind: 'tokenRevoked', token: tokenView(record) };
  }

  /** Drops tokens expired at `nowMs` (the command's time), in insertion order. Keepers never expire, so the invariant holds. */
  private dropExpired(nowMs: number): string[] {
    const dropped: TokenRecord[] = [];
    for (const record of this.byId.values()) {
      if (isExpired(record, nowMs)) dropped.push(record);
    }
    for (const record of dropped) this.remove(record);
    return dropped.map((record) => record.id);
  }

  private insert(record: TokenRecord): void {
    this.byId.set(record.id, record);
    this.byHash.set(record.hash, record);
    this.byName.set(record.name, record);
    if (isKeeper(record)) this.keeperCount++;
  }

  private remove(record: TokenRecord): void {
    this.byId.delete(record.id);
    this.byHash.delete(record.hash);
    this.byName.delete(record.name);
    if (isKeeper(record)) this.keeperCount--;
  }

  /**
   * Tokens oldest first (by createdAt, then id), without hashes. The cursor names the last
   * token of the previous page by its sort key, so a revoke between pages skips nothing.
   */
  list(options: { readonly limit?: number; readonly cursor?: string | null } = {}): TokenPage | Refused<'INVALID_CURSOR'> {
    let after: { createdAt: number; id: string } | null = null;
    if (options.cursor !== undefined && options.cursor !== null) {
      const m = /^t1\.(\d{1,15})\.([a-z0-9-]{1,40})$/.exec(options.cursor);
      if (m === null) return refused('INVALID_CURSOR', 'invalid cursor');
      after = { createdAt: Number(m[1]), id: itemAt(m, 2) };
    }
    const limit = clampLimit(options.limit);
    const sorted = [...this.byId.values()].sort(compareRecords);
    const start = after === null ? 0 : sorted.findIndex((r) => compareRecords(r, after) > 0);
    const from = start === -1 ? sorted.length : start;
    const page = sorted.slice(from, from + limit);
    const last = page[page.length - 1];
    const more = from + page.length < sorted.length;
    return { ok: true, items: page.map(tokenView), nextCursor: more && last !== undefined ? `t1.${last.createdAt}.${last.id}` : null };
  }

  /** Throws when the indexes disagree or an invariant is broken (tests and restore call it). */
  assertInvariants(): void {
    assert(this.byId.size === this.byHash.size && this.byId.size === this.byName.size, 'token indexes differ in size');
    assert(this.byId.size <= this.limits.tokensMax, 'more tokens than tokensMax');
    let keepers = 0;
    for (const record of this.byId.values()) {
      assert(this.byHash.get(record.hash) === record && this.byName.get(record.name) === record, `token ${record.id} is not indexed`);
      assert(isRole(record.role), `token ${record.id} has no valid role`);
      if (isKeeper(record)) keepers++;
    }
    assert(keepers === this.keeperCount, 'keeper count is off');
    assert(this.byId.size === 0 || keepers > 0, 'tokens exist but no admin token without expiry');
  }
}

function recordOf(command: CreateTokenCommand): TokenRecord {
  return Object.freeze({
    id: command.id, name: command.name, role: command.role, createdAt: command.createdAt,
    expiresAt: command.expiresAt, createdBy: command.createdBy, hash: command.hash,
  });
}

function compareRecords(a: { readonly createdAt: number; readonly id: string }, b: { readonly createdAt: number; readonly id: string }): number {
  if (a.createdAt !== b.createdAt) return a.createdAt - b.createdAt;
  return a.id < b.id ? -1 : a.id > b.id ? 1 : 0;
}

function clampLimit(limit: number | undefined): number {
  if (limit === undefined || !Number.isFinite(limit)) return TOKEN_LIST_LIMIT_DEFAULT;
  return Math.min(TOKEN_LIST_LIMIT_MAX, Math.max(1, Math.floor(limit)));
}

/** Whether a token has expired at `nowMs`: expiry is inclusive, a token is dead from expiresAt on. */
export function isExpired(record: { readonly expiresAt: number | null }, nowMs: number): boolean {
  return record.expiresAt !== null && nowMs >= record.expiresAt;
}
