// Roles and permissions as one table (api.md, "Access control"). A route names the one
// permission it needs; a role holds a fixed set of permissions. Nothing else decides access,
// so reading this file answers "who may do what".
import { isOneOf } from '../guards/index.js';

export const ROLES = ['admin', 'operator', 'viewer', 'worker'] as const;
export type Role = (typeof ROLES)[number];

export const PERMISSIONS = [
  /** GET /v1/health, GET /v1/ready, the console's static files: no token ever needed. */
  'public',
  'jobs.read',
  /** PUT/DELETE a job, pause, resume. */
  'jobs.write',
  'runs.read',
  /** Run now (manual runs and queue submissions), kill. */
  'runs.write',
  /** GET /v1/runs/{id}/output: full stdout/stderr. */
  'runs.output',
  'cluster.read',
  /** Member add/remove, leadership transfer. */
  'cluster.admin',
  /** Create, list and revoke tokens. */
  'tokens.admin',
  'audit.read',
  /** GET /metrics (open to everyone with --metrics-open). */
  'metrics.read',
  /** The pull-worker calls: claim, heartbeat, complete, fail. */
  'workers.pull',
  'notifications.read',
  /** GET /v1/functions and GET /v1/workers. */
  'functions.read',
  /** GET /v1/snapshot: a backup holds every secret and token hash, so only admins take one. */
  'snapshot.read',
] as const;
export type Permission = (typeof PERMISSIONS)[number];

/** Reads that every human role gets. Audit, tokens and snapshots are not among them (api.md: audit is admin). */
const EVERY_READ = ['jobs.read', 'runs.read', 'runs.output', 'cluster.read', 'metrics.read', 'notifications.read', 'functions.read'] as const satisfies readonly Permission[];

/**
 * The table. `public` is in every row because it needs no token at all; `metrics.read` is in
 * every row because api.md says /metrics "needs any role's token".
 */
export const ROLE_PERMISSIONS: { readonly [R in Role]: ReadonlySet<Permission> } = {
  admin: new Set<Permission>(PERMISSIONS),
  operator: new Set<Permission>(['public', ...EVERY_READ, 'jobs.write', 'runs.write']),
  viewer: new Set<Permission>(['public', ...EVERY_READ]),
  worker: new Set<Permission>(['public', 'workers.pull', 'metrics.read']),
};

export function isRole(value: unknown): value is Role {
  return isOneOf(ROLES, value);
}

export function isPermission(value: unknown): value is Permission {
  return isOneOf(PERMISSIONS, value);
}

export function can(role: Role, permission: Permission): boolean {
  return ROLE_PERMISSIONS[role].has(permission);
}
