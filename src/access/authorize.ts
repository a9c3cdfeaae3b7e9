// The check of each request (api.md, "Access control"): one pure function of the request's
// headers, the route's permission, the token registry and the caller's clock. The server
// calls it before a handler runs; it answers a principal or a refusal with its HTTP status.
import { ACCESS_STATUS_BY_CODE, type AccessCode } from './codes.js';
import { foreignOriginProblem, isLocalHost } from './origin.js';
import type { CredentialMemo } from './credential-memo.js';
import { can, type Permission, type Role } from './roles.js';
import { isExpired, type TokenRecord } from './token-registry.js';
import { hashesEqual, hashToken, parseAuthorization, queryTokenProblem } from './tokens.js';

/** What authorize needs of the registry: the state machine's TokenRegistry fits. */
export interface TokenLookup {
  readonly hasTokens: boolean;
  lookupHash(hash: string): TokenRecord | null;
}

export type AccessRequest = {
  readonly method: string;
  /** The matched route's permission. */
  readonly permission: Permission;
  readonly authorizationHeader: string | readonly string[] | undefined;
  /** The request target as received (path and query): a token in the query is refused. */
  readonly url: string;
  readonly origin: string | undefined;
  readonly host: string | undefined;
  /** nodeOriginsOf(the node's --http address and its bound address). */
  readonly nodeOrigins: readonly string[];
  /** --metrics-open: GET /metrics needs no token. */
  readonly metricsOpen?: boolean;
  /**
   * Whether the registry is authoritative on this node: false while a restarted or joining
   * node replays its log, and while a node given --admin-token-file has not yet applied the
   * bootstrap token. An empty registry then means "not known yet", not "no tokens", so
   * authenticated routes answer 503 instead of letting anyone in.
   */
  readonly registryReady: boolean;
};

export type Principal = {
  /** null for the anonymous principal. */
  readonly tokenId: string | null;
  /** The audit actor: the token's name, or `anonymous`. */
  readonly name: string;
  /** null on a public route (or open /metrics) reached without a token: no rights beyond that route. */
  readonly role: Role | null;
};

export type AccessDenied = {
  readonly ok: false;
  readonly status: 400 | 401 | 403 | 503;
  readonly code: AccessCode;
  readonly detail: string;
  /** Set on every 401: the value of the WWW-Authenticate header. */
  readonly wwwAuthenticate?: string;
};

export type AccessDecision = { readonly ok: true; readonly principal: Principal } | AccessDenied;

/** A cluster without tokens serves on loopback only (the wiring enforces it); there every caller may do everything. */
export const ANONYMOUS_PRINCIPAL: Principal = Object.freeze({ tokenId: null, name: 'anonymous', role: 'admin' });
/** Who reached a public route, or open /metrics, without a token. */
export const PUBLIC_PRINCIPAL: Principal = Object.freeze({ tokenId: null, name: 'anonymous', role: null });

const REALM = 'Bearer realm="chime"';

/** The codes a request check answers with: those whose status an AccessDenied can carry. */
type DenyCode = { [C in AccessCode]: (typeof ACCESS_STATUS_BY_CODE)[C] extends AccessDenied['status'] ? C : never }[AccessCode];

function deny(code: DenyCode, detail: string, wwwAuthenticate?: string): AccessDenied {
  const status = ACCESS_STATUS_BY_CODE[code];
  return wwwAuthenticate === undefined ? { ok: false, status, code, detail } : { ok: false, status, code, detail, wwwAuthenticate };
}

/**
 * Order matters and each step says why it sits where it does:
 * 1. A token in the query is refused on every route: it has leaked already, the caller must know.
 * 2. A foreign browser write is refused before anything about tokens is revealed.
 * 3. Public routes and open metrics need nothing more.
 * 4. An unready registry cannot tell "no tokens" from "not replayed yet": 503.
 * 5. No tokens in the cluster: anonymous admin, from a local Host name only (DNS rebinding).
 * 6. Otherwise a valid, unexpired bearer token whose role holds the permission.
 * `memo` (the server keeps one) spares parsing and hashing a header already accepted; the
 * registry is still asked on every request, so the answer is the same with or without it.
 */
export function authorize(request: AccessRequest, registry: TokenLookup, nowMs: number, memo: CredentialMemo | null = null): AccessDecision {
  const inQuery = queryTokenProblem(request.url);
  if (inQuery !== null) return deny(inQuery.code, inQuery.message);
  const foreign = foreignOriginProblem(request.method, request.origin, request.host, request.nodeOrigins);
  if (foreign !== null) return deny(foreign.code, foreign.message);
  if (request.permission === 'public' || (request.permission === 'metrics.read' && request.metricsOpen === true)) {
    return { ok: true, principal: PUBLIC_PRINCIPAL };
  }
  if (!request.registryReady) return deny('AUTH_NOT_READY', 'this node is still replaying its log and cannot check tokens yet; retry shortly');
  if (!registry.hasTokens) {
    if (!isLocalHost(request.host, request.nodeOrigins)) {
      return deny('HOST_NOT_ALLOWED', `a cluster without tokens answers only requests for its own or a loopback address, not ${String(request.host).slice(0, 100)}`);
    }
    return { ok: true, principal: ANONYMOUS_PRINCIPAL };
  }
  return authenticate(request, registry, nowMs, memo);
}

function authenticate(request: AccessRequest, registry: TokenLookup, nowMs: number, memo: CredentialMemo | null): AccessDecision {
  const found = tokenOf(request.authorizationHeader, registry, memo);
  if (!found.ok) return found;
  const record = found.record;
  if (isExpired(record, nowMs)) {
    return deny('TOKEN_EXPIRED', `token ${record.name} expired`, `${REALM}, error="invalid_token", error_description="the token expired"`);
  }
  if (!can(record.role, request.permission)) {
    return deny('FORBIDDEN', `token ${record.name} has role ${record.role}, which does not allow ${request.permission}`);
  }
  return { ok: true, principal: { tokenId: record.id, name: record.name, role: record.role } };
}

/** The registry's record for the header's bearer token, expired or not, or the 401 for the header. */
function tokenOf(header: string | readonly string[] | undefined, registry: TokenLookup, memo: CredentialMemo | null): { readonly ok: true; readonly record: TokenRecord } | AccessDenied {
  if (memo !== null && typeof header === 'string') {
    const remembered = memo.recall(header);
    if (remembered !== undefined) {
      // Records are never edited, only added and removed: the same object is the one this
      // header's hash was compared with when it was remembered, and it is still registered.
      const record = registry.lookupHash(remembered.hash);
      if (record !== null && record === remembered.record) return { ok: true, record };
      memo.forget(header);
    }
  }
  const parsed = parseAuthorization(header);
  if (!parsed.ok) {
    return deny(parsed.code, parsed.message, parsed.code === 'TOKEN_MISSING' ? REALM : `${REALM}, error="invalid_request"`);
  }
  const hash = hashToken(parsed.secret);
  // The map is keyed by the SHA-256 of the presented secret, which a caller cannot steer, so
  // the lookup's timing tells nothing about stored hashes; the match is compared in constant
  // time all the same.
  const record = registry.lookupHash(hash);
  if (record === null || !hashesEqual(record.hash, hash)) {
    return deny('TOKEN_INVALID', 'the token is unknown or was revoked', `${REALM}, error="invalid_token", error_description="unknown or revoked token"`);
  }
  if (memo !== null && typeof header === 'string') memo.remember(header, { hash, record });
  return { ok: true, record };
}
