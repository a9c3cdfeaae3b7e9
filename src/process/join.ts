import type { Logger } from '../log/index.js';

/** How long a node that joins keeps asking, and its backoff between attempts. */
const JOIN_DEADLINE_MS = 60_000;
const JOIN_BACKOFF_MS_MAX = 2000;
const JOIN_REQUEST_TIMEOUT_MS = 10_000;

/** Asks the cluster at `url` to add this node, retrying while it has no leader. */
export async function joinCluster(url: string, body: { id: string; rpc: string; http: string; role?: 'worker' }, logger: Logger, token: string | null = null): Promise<void> {
  const deadline = performance.now() + JOIN_DEADLINE_MS;
  for (let attempt = 1; ; attempt++) {
    try {
      const answer = await fetch(new URL('/v1/cluster/members', url), {
        method: 'POST',
        // A cluster with tokens takes a member change from an admin token only.
        headers: token === null ? { 'content-type': 'application/json' } : { 'content-type': 'application/json', authorization: `Bearer ${token}` },
        body: JSON.stringify(body),
        signal: AbortSignal.timeout(JOIN_REQUEST_TIMEOUT_MS),
      });
      const text = await answer.text();
      if (answer.status < 300) {
        logger.info('join accepted', { via: url });
        return;
      }
      const reason = `${answer.status} ${text.slice(0, 300)}`;
      if (answer.status < 500) {
        logger.error('join refused', { via: url, reason });
        return;
      }
      logger.warn('join not accepted yet', { via: url, reason, attempt });
    } catch (error) {
      logger.warn('join request failed', { via: url, error: String(error), attempt });
    }
    if (performance.now() > deadline) {
      logger.error('gave up joining', { via: url });
      return;
    }
    await new Promise((r) => setTimeout(r, Math.min(JOIN_BACKOFF_MS_MAX, 100 * 2 ** attempt)));
  }
}
