// The roles table of api.md, and routes that cannot exist without a permission.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { API_ROUTES, PERMISSIONS, ROLES, can, declareRoutes, isReadMethod, type Permission, type RouteDeclaration } from './index.js';

const READS: Permission[] = ['jobs.read', 'runs.read', 'runs.output', 'cluster.read', 'metrics.read', 'notifications.read', 'functions.read'];

function allowed(role: (typeof ROLES)[number]): Permission[] {
  return PERMISSIONS.filter((p) => can(role, p));
}

test('admin: everything', () => {
  assert.deepEqual(allowed('admin'), [...PERMISSIONS]);
});

test('operator: every read, and jobs, runs, kill, pause, submissions; no tokens, members, leadership, audit or backups', () => {
  assert.deepEqual(new Set(allowed('operator')), new Set<Permission>(['public', ...READS, 'jobs.write', 'runs.write']));
  for (const p of ['tokens.admin', 'cluster.admin', 'audit.read', 'snapshot.read', 'workers.pull'] as const) assert.equal(can('operator', p), false, p);
});

test('viewer: every read, including run output and /metrics; no write', () => {
  assert.deepEqual(new Set(allowed('viewer')), new Set<Permission>(['public', ...READS]));
  assert.ok(can('viewer', 'runs.output') && can('viewer', 'metrics.read'));
});

test('worker: the pull-worker calls, health and ready (and /metrics, which needs any role\'s token)', () => {
  assert.deepEqual(new Set(allowed('worker')), new Set<Permission>(['public', 'workers.pull', 'metrics.read']));
});

test('every route of api.md names a permission, by route', () => {
  const byRoute = new Map(API_ROUTES.map((r) => [`${r.method} ${r.path}`, r.permission]));
  const expect: [string, Permission][] = [
    ['GET /v1/health', 'public'], ['GET /v1/ready', 'public'], ['GET /metrics', 'metrics.read'],
    ['POST /v1/tokens', 'tokens.admin'], ['GET /v1/tokens', 'tokens.admin'], ['DELETE /v1/tokens/:id', 'tokens.admin'],
    ['POST /v1/cluster/members', 'cluster.admin'], ['POST /v1/cluster/transfer-leader', 'cluster.admin'],
    ['POST /v1/jobs/:id/pause', 'jobs.write'], ['POST /v1/jobs/:id/run', 'runs.write'], ['POST /v1/runs/:runId/kill', 'runs.write'],
    ['GET /v1/runs/:runId/output', 'runs.output'], ['POST /v1/workers/claim', 'workers.pull'], ['GET /v1/audit', 'audit.read'],
  ];
  for (const [route, permission] of expect) assert.equal(byRoute.get(route), permission, route);
  for (const route of API_ROUTES) assert.ok(route.permission !== 'public' || isReadMethod(route.method), `${route.method} ${route.path}`);
});

test('a route cannot be declared without a permission (type) or with an unknown one (runtime)', () => {
  // @ts-expect-error: permission is required.
  const missing: RouteDeclaration = { method: 'GET', path: '/v1/x' };
  assert.throws(() => declareRoutes([missing]), /unknown permission/);
  assert.throws(() => declareRoutes([{ method: 'GET', path: '/v1/x', permission: 'jobs.admin' as Permission }]), /unknown permission "jobs.admin"/);
});

test('a public write, a bad method and a route declared twice are refused at startup', () => {
  assert.throws(() => declareRoutes([{ method: 'POST', path: '/v1/x', permission: 'public' }]), /a write cannot be public/);
  assert.throws(() => declareRoutes([{ method: 'FETCH' as 'GET', path: '/v1/x', permission: 'jobs.read' }]), /unknown method/);
  assert.throws(() => declareRoutes([{ method: 'GET', path: '/v1/x', permission: 'jobs.read' }, { method: 'GET', path: '/v1/x', permission: 'runs.read' }]), /declared twice/);
  const routes = [{ method: 'GET' as const, path: '/v1/x', permission: 'jobs.read' as const, handle: () => 1 }];
  assert.equal(declareRoutes(routes), routes, 'a route type with more fields passes through unchanged');
});
