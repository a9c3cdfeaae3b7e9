// A route cannot exist without the permission it needs: the declaration type makes the field
// required, and declareRoutes refuses (at startup, as a bug) a table whose permission is not
// one of PERMISSIONS, a public write, or a route declared twice. API_ROUTES is the permission
// of every route api.md names, for the server to look its routes up in or to compare with.
import { assert } from './assert.js';
import { isOneOf } from '../guards/index.js';
import { isPermission, type Permission } from './roles.js';

export const ROUTE_METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'] as const;
export type RouteMethod = (typeof ROUTE_METHODS)[number];

export type RouteDeclaration = {
  readonly method: RouteMethod;
  /** Path with `:name` segments, as the server's router takes it. */
  readonly path: string;
  readonly permission: Permission;
};

/** Methods that change nothing: the Origin rule lets them through, and only they may be public. */
export function isReadMethod(method: string): boolean {
  return method === 'GET' || method === 'HEAD' || method === 'OPTIONS';
}

/**
 * Checks a route table once, at startup. A broken table is a bug in the code, not input, so it
 * throws (the process must not serve with a route that has no valid permission). Returns the
 * same array so the call can wrap the table literal.
 */
export function declareRoutes<T extends RouteDeclaration>(routes: readonly T[]): readonly T[] {
  const seen = new Set<string>();
  for (const route of routes) {
    const name = `${String(route.method)} ${String(route.path)}`;
    assert(isOneOf(ROUTE_METHODS, route.method), `route ${name}: unknown method`);
    assert(typeof route.path === 'string' && route.path.startsWith('/'), `route ${name}: the path must start with /`);
    assert(isPermission(route.permission), `route ${name}: unknown permission ${JSON.stringify(route.permission)}`);
    // A public write would be an unauthenticated change to the cluster.
    assert(route.permission !== 'public' || isReadMethod(route.method), `route ${name}: a write cannot be public`);
    assert(!seen.has(name), `route ${name} is declared twice`);
    seen.add(name);
  }
  return routes;
}

/** Every route of api.md and the permission it needs. */
export const API_ROUTES: readonly RouteDeclaration[] = declareRoutes<RouteDeclaration>([
  { method: 'GET', path: '/v1/health', permission: 'public' },
  { method: 'GET', path: '/v1/ready', permission: 'public' },
  { method: 'GET', path: '/', permission: 'public' },
  { method: 'GET', path: '/console/:name', permission: 'public' },
  { method: 'GET', path: '/metrics', permission: 'metrics.read' },
  { method: 'GET', path: '/v1/cluster', permission: 'cluster.read' },
  { method: 'POST', path: '/v1/cluster/members', permission: 'cluster.admin' },
  { method: 'DELETE', path: '/v1/cluster/members/:id', permission: 'cluster.admin' },
  { method: 'POST', path: '/v1/cluster/transfer-leader', permission: 'cluster.admin' },
  { method: 'GET', path: '/v1/jobs', permission: 'jobs.read' },
  { method: 'GET', path: '/v1/jobs/:id', permission: 'jobs.read' },
  { method: 'PUT', path: '/v1/jobs/:id', permission: 'jobs.write' },
  { method: 'DELETE', path: '/v1/jobs/:id', permission: 'jobs.write' },
  { method: 'POST', path: '/v1/apply', permission: 'jobs.write' },
  { method: 'GET', path: '/v1/schedule/preview', permission: 'jobs.read' },
  { method: 'GET', path: '/v1/schedule/upcoming', permission: 'jobs.read' },
  { method: 'POST', path: '/v1/jobs/:id/pause', permission: 'jobs.write' },
  { method: 'POST', path: '/v1/jobs/:id/resume', permission: 'jobs.write' },
  { method: 'POST', path: '/v1/jobs/:id/run', permission: 'runs.write' },
  { method: 'GET', path: '/v1/jobs/:id/runs', permission: 'runs.read' },
  { method: 'GET', path: '/v1/runs', permission: 'runs.read' },
  { method: 'GET', path: '/v1/runs/:runId', permission: 'runs.read' },
  { method: 'GET', path: '/v1/runs/:runId/output', permission: 'runs.output' },
  { method: 'POST', path: '/v1/runs/:runId/kill', permission: 'runs.write' },
  { method: 'POST', path: '/v1/workers/claim', permission: 'workers.pull' },
  { method: 'POST', path: '/v1/runs/:runId/heartbeat', permission: 'workers.pull' },
  { method: 'POST', path: '/v1/runs/:runId/complete', permission: 'workers.pull' },
  { method: 'POST', path: '/v1/runs/:runId/fail', permission: 'workers.pull' },
  { method: 'GET', path: '/v1/functions', permission: 'functions.read' },
  { method: 'GET', path: '/v1/workers', permission: 'functions.read' },
  { method: 'GET', path: '/v1/notifications', permission: 'notifications.read' },
  /** chime notify test: sends a signed event to a job's targets, so it is a write on the job. */
  { method: 'POST', path: '/v1/jobs/:id/notify/test', permission: 'jobs.write' },
  { method: 'POST', path: '/v1/tokens', permission: 'tokens.admin' },
  { method: 'GET', path: '/v1/tokens', permission: 'tokens.admin' },
  { method: 'DELETE', path: '/v1/tokens/:id', permission: 'tokens.admin' },
  { method: 'GET', path: '/v1/audit', permission: 'audit.read' },
  { method: 'GET', path: '/v1/snapshot', permission: 'snapshot.read' },
]);
