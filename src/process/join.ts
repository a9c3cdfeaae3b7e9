import { request as httpRequest, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import type { Logger } from '../log/index.js';

/** How long a node that joins keeps asking, and its backoff between attempts. */
const JOIN_DEADLINE_MS = 60_000;
const JOIN_BACKOFF_MS_MAX = 2000;
const JOIN_REQUEST_TIMEOUT_MS = 10_000;
/** The most of a refusal's body kept for the log line. */
const JOIN_ANSWER_BYTES_MAX = 4096;

/**
 * One POST, over https trusting `ca` when given (the cluster's own CA, --peer-ca) — `fetch`
 * takes no CA, so a cluster with a private CA could not be joined without NODE_EXTRA_CA_CERTS.
 */
function post(url: URL, headers: Record<string, string>, body: string, ca: string | Buffer | null): Promise<{ status: number; text: string }> {
  return new Promise((done, fail) => {
    const options = { method: 'POST', headers: { ...headers, 'content-length': String(Buffer.byteLength(body)) }, timeout: JOIN_REQUEST_TIMEOUT_MS };
    const onAnswer = (res: IncomingMessage): void => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        if (text.length < JOIN_ANSWER_BYTES_MAX) text += chunk.slice(0, JOIN_ANSWER_BYTES_MAX - text.length);
      });
      res.on('end', () => done({ status: res.statusCode ?? 0, text }));
      res.on('error', fail);
    };
    const req = url.protocol === 'https:'
      ? httpsRequest(url, ca === null ? options : { ...options, ca }, onAnswer)
      : httpRequest(url, options, onAnswer);
    req.on('timeout', () => req.destroy(new Error(`no answer in ${JOIN_REQUEST_TIMEOUT_MS} ms`)));
    req.on('error', fail);
    req.end(body);
  });
}

/**
 * A 4xx that passes by itself: the leader held this change behind others not yet applied
 * for its whole hold, or already held as many as it takes (a cluster without quorum, many
 * nodes joining at once). Giving up on it left a node that never joined.
 */
function isTransientRefusal(text: string): boolean {
  try {
    const problem: unknown = JSON.parse(text);
    return typeof problem === 'object' && problem !== null && 'code' in problem && problem.code === 'CONF_CHANGE_PENDING';
  } catch {
    return false;
  }
}

/**
 * Asks the cluster at `url` to add this node, retrying while it has no leader or a membership
 * change is still pending there. An https URL is
 * checked against `ca` when given, else the system's trust store (plus NODE_EXTRA_CA_CERTS).
 */
export async function joinCluster(url: string, body: { id: string; rpc: string; http: string; role?: 'worker' }, logger: Logger, token: string | null = null, ca: string | Buffer | null = null): Promise<void> {
  const deadline = performance.now() + JOIN_DEADLINE_MS;
  for (let attempt = 1; ; attempt++) {
    try {
      // A cluster with tokens takes a member change from an admin token only.
      const headers: Record<string, string> = token === null ? { 'content-type': 'application/json' } : { 'content-type': 'application/json', authorization: `Bearer ${token}` };
      const answer = await post(new URL('/v1/cluster/members', url), headers, JSON.stringify(body), ca);
      const text = answer.text;
      if (answer.status < 300) {
        logger.info('join accepted', { via: url });
        return;
      }
      const reason = `${answer.status} ${text.slice(0, 300)}`;
      if (answer.status < 500 && !isTransientRefusal(text)) {
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
