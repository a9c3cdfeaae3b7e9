import { ChimeError, type FieldError } from '../errors/index.js';
import { objectBody } from './params.js';
import { sendJson } from './problem.js';
import type { ClusterService, LeaderGate, MetricsSource } from './services.js';
import type { Route } from './server.js';

const NODE_ID = /^[a-z0-9][a-z0-9-]{0,31}$/;
const HOST_PORT = /^[^\s:]+:\d{1,5}$|^\[[0-9a-fA-F:]+\]:\d{1,5}$/;

/**
 * How long the leader may hold a membership change behind one not yet applied (the node's
 * `confChangeHoldMs`, which the agent sets from this): a change forwarded by a follower
 * waits that much longer for its answer.
 */
export const MEMBER_CHANGE_HOLD_MS_MAX = 5_000;

/** Health, readiness, cluster status, membership, leadership transfer and metrics. */
export function clusterRoutes(cluster: ClusterService, gate: LeaderGate, metrics: MetricsSource): Route[] {
  return [
    { method: 'GET', path: '/v1/health', permission: 'public', write: false, handle: async ({ res }) => sendJson(res, 200, { status: 'ok', id: gate.nodeId }) },
    {
      method: 'GET',
      path: '/v1/ready',
      permission: 'public',
      write: false,
      handle: async ({ res }) => {
        const view = cluster.view();
        const ready = cluster.isReady();
        sendJson(res, ready ? 200 : 503, { ready, leader: view.leader, commitIndex: view.commitIndex, appliedIndex: view.appliedIndex });
      },
    },
    { method: 'GET', path: '/v1/cluster', permission: 'cluster.read', write: false, handle: async ({ res }) => sendJson(res, 200, cluster.view()) },
    {
      method: 'POST',
      path: '/v1/cluster/members',
      permission: 'cluster.admin',
      write: true,
      holdsMsMax: MEMBER_CHANGE_HOLD_MS_MAX,
      handle: async ({ res, body, audit }) => {
        const input = objectBody(await body(), ['id', 'rpc', 'http', 'role']);
        const errors: FieldError[] = [];
        const id = input.get('id');
        const rpc = input.get('rpc');
        const http = input.get('http');
        const role = input.get('role');
        if (typeof id !== 'string' || !NODE_ID.test(id)) errors.push({ path: 'id', message: 'must match [a-z0-9][a-z0-9-]{0,31}' });
        if (role !== undefined && role !== 'voter' && role !== 'worker') errors.push({ path: 'role', message: 'must be "voter" or "worker"' });
        const member = typeof id === 'string' ? cluster.view().members.find((m) => m.id === id) : undefined;
        // A member named with a role and no address: the operator changes its role (promote, demote).
        if (member !== undefined && rpc === undefined && (role === 'voter' || role === 'worker') && errors.length === 0) {
          await cluster.setMemberRole(member.id, role, audit(member.id));
          return sendJson(res, 202, { id: member.id, role, note: role === 'voter' ? 'promoted to voter' : 'demoted to a non-voting worker' });
        }
        if (typeof rpc !== 'string' || !HOST_PORT.test(rpc)) errors.push({ path: 'rpc', message: 'must be HOST:PORT' });
        if (http !== undefined && (typeof http !== 'string' || !HOST_PORT.test(http))) errors.push({ path: 'http', message: 'must be HOST:PORT' });
        if (errors.length > 0 || typeof id !== 'string' || typeof rpc !== 'string') throw new ChimeError('INVALID_REQUEST', 'the member is invalid', { errors });
        const worker = role === 'worker';
        await cluster.addMember(id, { rpc, http: typeof http === 'string' ? http : '' }, worker ? 'worker' : 'voter', audit(id));
        // The node refuses a member added again unless it names the same address and role.
        if (member !== undefined) return sendJson(res, 202, { id, status: member.role, note: 'already a member at this address; nothing changed' });
        sendJson(res, 202, worker
          ? { id, status: 'worker', note: 'a non-voting executor; never promoted by itself' }
          : { id, status: 'learner', note: 'promoted to voter once caught up' });
      },
    },
    {
      method: 'DELETE',
      path: '/v1/cluster/members/:id',
      permission: 'cluster.admin',
      write: true,
      holdsMsMax: MEMBER_CHANGE_HOLD_MS_MAX,
      handle: async ({ res, params, audit }) => {
        const id = params['id'] ?? '';
        if (!NODE_ID.test(id)) throw new ChimeError('INVALID_REQUEST', 'the member id is invalid', { errors: [{ path: 'id', message: 'must match [a-z0-9][a-z0-9-]{0,31}' }] });
        if (!cluster.view().members.some((m) => m.id === id)) throw new ChimeError('MEMBER_NOT_FOUND', `${id} is not a member`);
        await cluster.removeMember(id, audit(id));
        res.writeHead(204).end();
      },
    },
    {
      method: 'POST',
      path: '/v1/cluster/transfer-leader',
      permission: 'cluster.admin',
      write: true,
      handle: async ({ res, body, audit }) => {
        const to = objectBody(await body(), ['to']).get('to');
        if (to !== undefined && (typeof to !== 'string' || !NODE_ID.test(to))) throw new ChimeError('INVALID_REQUEST', 'the target is invalid', { errors: [{ path: 'to', message: 'must be a member id' }] });
        const target = cluster.transferLeadership(typeof to === 'string' ? to : null, audit(typeof to === 'string' ? to : null));
        sendJson(res, 202, { from: gate.nodeId, to: target });
      },
    },
    {
      method: 'GET',
      path: '/metrics',
      permission: 'metrics.read',
      write: false,
      handle: async ({ res }) => {
        res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4' });
        res.end(metrics.render());
      },
    },
  ];
}
