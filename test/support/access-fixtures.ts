// Access-control tests: commands and requests with defaults, so each test shows only what it
// is about.
import { TokenRegistry, hashToken, nodeOriginsOf, type AccessRequest, type CreateTokenCommand, type Permission, type Role, type TokenLookup } from '../../src/access/index.js';
import type { AccessControl } from '../../src/api/index.js';

export const T0 = Date.UTC(2026, 0, 1);
export const NODE_HTTP = '10.0.0.5:8400';

/** A deterministic secret per name (tests must not depend on randomness). */
export function secretOf(name: string): string {
  return `chime_${name.padEnd(43, 'x').slice(0, 43)}`;
}

let nextId = 1;
export function createCommand(name: string, role: Role, extra: Partial<CreateTokenCommand> = {}): CreateTokenCommand {
  return {
    type: 'createToken', id: `t${String(nextId++).padStart(4, '0')}`, name, role, hash: hashToken(secretOf(name)),
    createdAt: T0, expiresAt: null, createdBy: 'admin', ...extra,
  };
}

/** A registry holding an admin keeper (`admin`) and one token per role named after it. */
export function registryWithRoles(): TokenRegistry {
  const registry = TokenRegistry.create();
  for (const [name, role] of [['admin', 'admin'], ['operator', 'operator'], ['viewer', 'viewer'], ['worker', 'worker']] as const) {
    const result = registry.apply(createCommand(name, role));
    if (!result.ok) throw new Error(result.message);
  }
  return registry;
}

export function request(permission: Permission, overrides: Partial<AccessRequest> = {}): AccessRequest {
  return {
    method: 'GET', permission, authorizationHeader: undefined, url: '/v1/jobs', origin: undefined, host: NODE_HTTP,
    nodeOrigins: nodeOriginsOf([NODE_HTTP]), registryReady: true, ...overrides,
  };
}

export function bearer(name: string): string {
  return `Bearer ${secretOf(name)}`;
}

/**
 * The access control of a server in unit tests: a ready registry (empty unless given), the
 * node's own origin at `127.0.0.1`, a fixed clock. `catchUps` counts how often the server
 * asked to catch up after an unknown token.
 */
export function accessOf(registry: TokenLookup = TokenRegistry.create(), nodeHttp = '127.0.0.1:1', ready = true): AccessControl & { catchUps: number } {
  const access = {
    catchUps: 0,
    tokens: () => registry,
    isReady: () => ready,
    becomeReady: async () => ready,
    catchUp: async () => {
      access.catchUps++;
      return true;
    },
    nowMs: () => T0,
    metricsOpen: false,
    nodeOrigins: () => nodeOriginsOf([nodeHttp]),
  };
  return access;
}
