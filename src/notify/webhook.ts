// The webhook of one event: its JSON body, built from the replicated record alone (so every
// leader sends the same bytes for the same event), and its HMAC-SHA256 signature under the
// cluster's notify key (api.md, "Notifications").
import { createHmac, timingSafeEqual } from 'node:crypto';
import type { NotificationRecord, NotifyEvent, NotifyTarget } from '../statemachine/index.js';

/** What a receiver gets as JSON. `event` is `test` only for `chime notify test`. */
export type WebhookBody = {
  readonly eventId: string;
  readonly event: NotifyEvent | 'test';
  readonly jobId: string;
  readonly runId: string | null;
  readonly attempt: number | null;
  readonly status: string | null;
  readonly scheduledAt: string | null;
  readonly finishedAt: string | null;
  readonly node: string | null;
  readonly exitCode: number | null;
  readonly outputTail: string;
  readonly cluster: string;
};

export type WebhookRequest = {
  readonly eventId: string;
  readonly url: string;
  readonly headers: Readonly<Record<string, string>>;
  readonly body: string;
};

export const EVENT_ID_HEADER = 'Chime-Event-Id';
export const SIGNATURE_HEADER = 'Chime-Signature';
const SIGNATURE_PREFIX = 'sha256=';

function iso(ms: number | null): string | null {
  return ms === null ? null : new Date(ms).toISOString();
}

export function bodyOf(record: NotificationRecord, cluster: string): WebhookBody {
  return {
    eventId: record.eventId, event: record.event, jobId: record.jobId, runId: record.runId, attempt: record.attempt, status: record.runStatus,
    scheduledAt: iso(record.scheduledAt), finishedAt: iso(record.finishedAt), node: record.node, exitCode: record.exitCode,
    outputTail: record.outputTail, cluster,
  };
}

/** `sha256=HEX`: HMAC-SHA256 of the exact body bytes under the key. */
export function signature(key: Uint8Array, body: string): string {
  return SIGNATURE_PREFIX + createHmac('sha256', key).update(body, 'utf8').digest('hex');
}

/** What a receiver does: recompute and compare in constant time. Exported for the test receiver and docs. */
export function verifySignature(key: Uint8Array, body: string | Uint8Array, header: string | undefined): boolean {
  if (header === undefined || !header.startsWith(SIGNATURE_PREFIX)) return false;
  const expected = Buffer.from(createHmac('sha256', key).update(body).digest('hex'), 'utf8');
  const given = Buffer.from(header.slice(SIGNATURE_PREFIX.length), 'utf8');
  return given.length === expected.length && timingSafeEqual(given, expected);
}

/**
 * The request for one event to one target. The target's headers come from the job as it is
 * now (null when the job or the target is gone: the event is still owed, sent without them);
 * chime's own headers are set last, so no target header can replace them.
 */
export function requestOf(key: Uint8Array, url: string, body: WebhookBody, target: NotifyTarget | null): WebhookRequest {
  const text = JSON.stringify(body);
  return {
    eventId: body.eventId,
    url,
    headers: {
      ...(target?.headers ?? {}),
      ...(target?.secretHeaders ?? {}),
      'Content-Type': 'application/json',
      [EVENT_ID_HEADER]: body.eventId,
      [SIGNATURE_HEADER]: signature(key, text),
    },
    body: text,
  };
}
