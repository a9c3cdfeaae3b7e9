import type { Agent } from '../agent/agent.js';
import { problem, sendJson, type FieldError } from './problem.js';
import type { Route } from './server.js';

const NODE_ID = /^[a-z0-9][a-z0-9-]{0,31}$/;
const HOST_PORT = /^[^\s:]+:\d{1,5}$|^\[[0-9a-fA-F:]+\]:\d{1,5}$/;

function requireObject(body: unknown, allowed: readonly string[]): Record<string, unknown> {
  if (body === undefined) return {};
  if (typeof body !== 'object' || body === null || Array.isArray(body)) throw problem(400, 'INVALID_REQUEST', 'the body must be a JSON object', [{ path: '', message: 'expected an object' }]);
  const unknown = Object.keys(body).filter((k) => !allowed.includes(k));
  if (unknown.length > 0) throw problem(400, 'INVALID_REQUEST', 'the body has unknown fields', unknown.map((k) => ({ path: k, message: 'unknown field' })));
  return body as Record<string, unknown>;
}

/** Health, readiness, cluster status, membership and leadership transfer. */
export function clusterRoutes(agent: Agent): Route[] {
  return [
    { method: 'GET', path: '/v1/health', write: false, handle: async ({ res }) => sendJson(res, 200, { status: 'ok', id: agent.id }) },
    {
      method: 'GET',
      path: '/v1/ready',
      write: false,
      handle: async ({ res }) => {
        const view = agent.cluster();
        const ready = agent.isReady();
        sendJson(res, ready ? 200 : 503, { ready, leader: view.leader, commitIndex: view.commitIndex, appliedIndex: view.appliedIndex });
      },
    },
    { method: 'GET', path: '/v1/cluster', write: false, handle: async ({ res }) => sendJson(res, 200, agent.cluster()) },
    {
      method: 'POST',
      path: '/v1/cluster/members',
      write: true,
      handle: async ({ res, body }) => {
        const input = requireObject(await body(), ['id', 'rpc', 'http']);
        const errors: FieldError[] = [];
        const { id, rpc, http } = input;
        if (typeof id !== 'string' || !NODE_ID.test(id)) errors.push({ path: 'id', message: 'must match [a-z0-9][a-z0-9-]{0,31}' });
        if (typeof rpc !== 'string' || !HOST_PORT.test(rpc)) errors.push({ path: 'rpc', message: 'must be HOST:PORT' });
        if (http !== undefined && (typeof http !== 'string' || !HOST_PORT.test(http))) errors.push({ path: 'http', message: 'must be HOST:PORT' });
        if (errors.length > 0) throw problem(400, 'INVALID_REQUEST', 'the member is invalid', errors);
        await agent.addMember(id as string, { rpc: rpc as string, http: (http as string | undefined) ?? '' });
        sendJson(res, 202, { id, status: 'learner', note: 'promoted to voter once caught up' });
      },
    },
    {
      method: 'DELETE',
      path: '/v1/cluster/members/:id',
      write: true,
      handle: async ({ res, params }) => {
        const id = params['id'] ?? '';
        if (!NODE_ID.test(id)) throw problem(400, 'INVALID_REQUEST', 'the member id is invalid', [{ path: 'id', message: 'must match [a-z0-9][a-z0-9-]{0,31}' }]);
        const view = agent.cluster();
        if (!view.members.some((m) => m.id === id)) throw problem(404, 'MEMBER_NOT_FOUND', `${id} is not a member`);
        await agent.removeMember(id);
        res.writeHead(204).end();
      },
    },
    {
      method: 'POST',
      path: '/v1/cluster/transfer-leader',
      write: true,
      handle: async ({ res, body }) => {
        const input = requireObject(await body(), ['to']);
        const to = input['to'];
        if (to !== undefined && (typeof to !== 'string' || !NODE_ID.test(to))) throw problem(400, 'INVALID_REQUEST', 'the target is invalid', [{ path: 'to', message: 'must be a member id' }]);
        const target = agent.transferLeadership((to as string | undefined) ?? null);
        sendJson(res, 202, { from: agent.id, to: target });
      },
    },
    {
      method: 'GET',
      path: '/metrics',
      write: false,
      handle: async ({ res }) => {
        res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4' });
        res.end(agent.metrics.render(agent));
      },
    },
  ];
}
