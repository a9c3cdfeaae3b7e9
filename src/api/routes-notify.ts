// Notification endpoints: the deliveries the replicated table records (any node answers) and
// a test event for one job's targets (sent by the leader, which has the same key as every node).
import { ChimeError } from '../errors/index.js';
import { NOTIFY_DELIVERY_STATUSES, isValidJobId, type NotifyDeliveryStatus } from '../statemachine/index.js';
import { jobIdParam, pageParams, readBarrier } from './params.js';
import { sendJson } from './problem.js';
import type { JobService, NotifyService, ReadBarrier } from './services.js';
import type { Route } from './server.js';
import { notificationView } from './views.js';

function statusParam(value: string | null): NotifyDeliveryStatus | null {
  if (value === null || value === '') return null;
  const status = NOTIFY_DELIVERY_STATUSES.find((s) => s === value);
  if (status === undefined) {
    throw new ChimeError('INVALID_REQUEST', `status must be one of ${NOTIFY_DELIVERY_STATUSES.join(', ')}`, { errors: [{ path: 'status', message: `expected ${NOTIFY_DELIVERY_STATUSES.join('|')}` }] });
  }
  return status;
}

function jobParam(value: string | null): string | null {
  if (value === null || value === '') return null;
  if (!isValidJobId(value)) throw new ChimeError('INVALID_JOB_ID', 'job must match [A-Za-z0-9._-]{1,128}', { errors: [{ path: 'job', message: 'must match [A-Za-z0-9._-]{1,128}' }] });
  return value;
}

export function notifyRoutes(notify: NotifyService, jobs: JobService, barrier: ReadBarrier): Route[] {
  return [
    {
      method: 'GET',
      path: '/v1/notifications',
      permission: 'notifications.read',
      write: false,
      handle: async (ctx) => {
        const q = ctx.url.searchParams;
        const filter = { jobId: jobParam(q.get('job')), status: statusParam(q.get('status')) };
        const options = pageParams(ctx);
        await readBarrier(barrier, ctx);
        const page = jobs.table().listNotifications(filter, options);
        if (!page.ok) throw new ChimeError(page.code, page.message);
        sendJson(ctx.res, 200, { items: page.items.map(notificationView), nextCursor: page.nextCursor });
      },
    },
    {
      method: 'POST',
      path: '/v1/jobs/:id/notify/test',
      permission: 'jobs.write',
      // On the leader: its table is current, and a test from the node that sends the real events.
      write: true,
      handle: async (ctx) => {
        const id = jobIdParam(ctx);
        const items = await notify.sendTest(id);
        sendJson(ctx.res, 200, { items });
      },
    },
  ];
}
