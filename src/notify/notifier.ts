// The leader's delivery loop. It sends what the replicated table says is due, decides each
// attempt's outcome (delivered on a 2xx; otherwise again after an exponential backoff, until
// the retry window is over), and proposes the outcomes in batches (notifyResults). Nothing
// about a delivery is decided twice: an event whose outcome is known here but not yet
// committed is neither due nor sent again by this leader. A new leader knows only what was
// committed; an event acknowledged by its receiver whose outcome did not commit before the
// old leader died is sent once more (the crash window that receivers dedupe by event id).
import type { ApplyResult, NotificationRecord, NotifyResult, NotifyResultsCommand, NotifyTarget } from '../statemachine/index.js';
import { NOTIFY_RESULTS_PER_BATCH_MAX } from '../statemachine/index.js';
import type { Logger } from '../log/index.js';
import { bodyOf, requestOf, type WebhookRequest } from './webhook.js';

/** How an attempt went: an HTTP status, or an error before one arrived (timeout, refused, reset). */
export type PostOutcome = { readonly status: number } | { readonly error: string };

export interface NotifierClock {
  now(): number;
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

/** What the notifier needs of the node it runs on (the process wiring fills it; tests fake it). */
export interface NotifierHost {
  readonly clock: NotifierClock;
  /** Pending deliveries due at or before `nowMs`, earliest first (the applied table). */
  due(nowMs: number, limit: number): readonly NotificationRecord[];
  earliestDueAt(): number | null;
  /**
   * The job's notify target at `index` if it still sends to `url`, else null; its secret
   * headers opened (--secrets-key-file), or why they cannot be (the attempt then fails
   * with that reason and is retried: a target is never sent without its secret headers).
   */
  target(jobId: string, index: number, url: string): NotifyTarget | null | { readonly error: string };
  propose(command: NotifyResultsCommand): Promise<ApplyResult>;
  post(request: WebhookRequest, timeoutMs: number): Promise<PostOutcome>;
}

export type NotifierOptions = {
  readonly key: Uint8Array;
  readonly cluster: string;
  /** Deliveries in flight to one URL at once: a slow receiver is not flooded, nor does it starve the others. */
  readonly perTargetInFlightMax: number;
  /** Deliveries in flight in total. */
  readonly inFlightMax: number;
  /** One attempt's limit, connect to response status. */
  readonly deliveryTimeoutMs: number;
  /** From the event's recording: after this, a failed attempt gives up (recorded failed). */
  readonly retryWindowMs: number;
  readonly backoffBaseMs: number;
  readonly backoffMaxMs: number;
  /** Outcomes waiting for a proposal are flushed after this (they batch meanwhile). */
  readonly flushDelayMs: number;
  /** Outcomes decided and not yet committed, at most; beyond it no new attempt starts. */
  readonly unsavedMax: number;
  /** Due records looked at per pass (a pass runs again as soon as anything settles). */
  readonly dueScanMax: number;
  /** Longest wait between passes when nothing wakes the notifier. */
  readonly idlePassMs: number;
};

export const NOTIFIER_DEFAULTS: Omit<NotifierOptions, 'key' | 'cluster'> = Object.freeze({
  perTargetInFlightMax: 4,
  inFlightMax: 64,
  deliveryTimeoutMs: 10_000,
  retryWindowMs: 24 * 3600 * 1000,
  backoffBaseMs: 1000,
  backoffMaxMs: 10 * 60 * 1000,
  flushDelayMs: 20,
  unsavedMax: 4096,
  dueScanMax: 1000,
  idlePassMs: 1000,
});

/** The wait before attempt `attempts + 1` after `attempts` failed ones: base · 2^(attempts−1), capped. */
export function backoffMs(attempts: number, baseMs: number, maxMs: number): number {
  return Math.min(maxMs, baseMs * 2 ** Math.min(Math.max(0, attempts - 1), 30));
}

/** Counters of this leader's notifier (they restart with each term, like the scheduler's). */
export type NotifierStats = {
  attempts: number;
  delivered: number;
  retried: number;
  gaveUp: number;
  proposalFailures: number;
  readonly inFlight: number;
  readonly unsaved: number;
};

export class Notifier {
  private readonly inFlight = new Map<string, string>();
  private readonly perTarget = new Map<string, number>();
  /** Outcomes decided and not yet committed, by event id. */
  private readonly unsaved = new Map<string, NotifyResult>();
  private readonly proposing = new Set<string>();
  private passTimer: unknown = null;
  private flushTimer: unknown = null;
  private stopped = false;
  private readonly counts = { attempts: 0, delivered: 0, retried: 0, gaveUp: 0, proposalFailures: 0 };

  constructor(private readonly host: NotifierHost, private readonly options: NotifierOptions, private readonly logger: Logger) {}

  start(): void {
    this.pass();
  }

  /** Stops starting attempts and proposing; attempts in flight finish unrecorded (the next leader owes them). */
  stop(): void {
    this.stopped = true;
    this.clear('passTimer');
    this.clear('flushTimer');
  }

  /** New events were committed, or outcomes were: look again now. */
  wake(): void {
    if (this.stopped) return;
    this.clear('passTimer');
    this.passTimer = this.host.clock.setTimeout(() => this.pass(), 0);
  }

  stats(): NotifierStats {
    return { ...this.counts, inFlight: this.inFlight.size, unsaved: this.unsaved.size };
  }

  private clear(which: 'passTimer' | 'flushTimer'): void {
    if (this[which] !== null) this.host.clock.clearTimeout(this[which]);
    this[which] = null;
  }

  /** One pass over what is due: starts what the limits allow, then sleeps until the next due instant. */
  pass(): void {
    this.clear('passTimer');
    if (this.stopped) return;
    const now = this.host.clock.now();
    for (const record of this.host.due(now, this.options.dueScanMax)) {
      if (this.inFlight.size >= this.options.inFlightMax || this.unsaved.size >= this.options.unsavedMax) break;
      if (this.inFlight.has(record.eventId) || this.unsaved.has(record.eventId)) continue;
      if ((this.perTarget.get(record.url) ?? 0) >= this.options.perTargetInFlightMax) continue;
      this.send(record);
    }
    const earliest = this.host.earliestDueAt();
    // Something due but held back (in flight, not yet committed, a busy target) is looked at
    // again when an attempt settles or a commit wakes us; the idle pass is the backstop.
    const waitMs = earliest === null || earliest <= now ? this.options.idlePassMs : Math.min(earliest - now, this.options.idlePassMs);
    this.passTimer = this.host.clock.setTimeout(() => this.pass(), waitMs);
  }

  private send(record: NotificationRecord): void {
    this.inFlight.set(record.eventId, record.url);
    this.perTarget.set(record.url, (this.perTarget.get(record.url) ?? 0) + 1);
    this.counts.attempts += 1;
    const target = this.host.target(record.jobId, record.target, record.url);
    const attempt = target !== null && 'error' in target
      ? Promise.resolve({ error: target.error })
      : this.host.post(requestOf(this.options.key, record.url, bodyOf(record, this.options.cluster), target), this.options.deliveryTimeoutMs);
    attempt.then(
      (outcome) => this.settle(record, outcome),
      (error: unknown) => this.settle(record, { error: error instanceof Error ? error.message : String(error) }),
    );
  }

  private settle(record: NotificationRecord, outcome: PostOutcome): void {
    this.inFlight.delete(record.eventId);
    const left = (this.perTarget.get(record.url) ?? 1) - 1;
    if (left <= 0) this.perTarget.delete(record.url);
    else this.perTarget.set(record.url, left);
    if (this.stopped) return;
    const result = this.decide(record, outcome, this.host.clock.now());
    this.unsaved.set(record.eventId, result);
    if (this.flushTimer === null) this.flushTimer = this.host.clock.setTimeout(() => this.flush(), this.options.flushDelayMs);
    this.wake();
  }

  private decide(record: NotificationRecord, outcome: PostOutcome, now: number): NotifyResult {
    if ('status' in outcome && outcome.status >= 200 && outcome.status < 300) {
      this.counts.delivered += 1;
      return { eventId: record.eventId, outcome: 'delivered', attemptAt: now, error: null, nextAttemptAt: null };
    }
    const error = 'status' in outcome ? `HTTP ${outcome.status}` : outcome.error;
    if (now - record.createdAt >= this.options.retryWindowMs) {
      this.counts.gaveUp += 1;
      this.logger.warn('notification given up', { eventId: record.eventId, url: record.url, attempts: record.attempts + 1, error });
      return { eventId: record.eventId, outcome: 'failed', attemptAt: now, error: `gave up after ${record.attempts + 1} attempts: ${error}`, nextAttemptAt: null };
    }
    this.counts.retried += 1;
    const nextAttemptAt = now + backoffMs(record.attempts + 1, this.options.backoffBaseMs, this.options.backoffMaxMs);
    return { eventId: record.eventId, outcome: 'retry', attemptAt: now, error, nextAttemptAt };
  }

  /** Proposes the outcomes decided so far, one batch at a time; a failed proposal is tried again. */
  private flush(): void {
    this.flushTimer = null;
    if (this.stopped || this.proposing.size > 0) return;
    const results: NotifyResult[] = [];
    for (const result of this.unsaved.values()) {
      if (results.length >= NOTIFY_RESULTS_PER_BATCH_MAX) break;
      results.push(result);
      this.proposing.add(result.eventId);
    }
    if (results.length === 0) return;
    this.host.propose({ type: 'notifyResults', at: this.host.clock.now(), results }).then(
      (applied) => this.proposed(results, applied.ok ? null : applied.message),
      (error: unknown) => this.proposed(results, error instanceof Error ? error.message : String(error)),
    );
  }

  private proposed(results: readonly NotifyResult[], failure: string | null): void {
    for (const r of results) this.proposing.delete(r.eventId);
    if (failure === null) {
      // Committed: the table now says what happened, so the event may be due again (a retry) from it.
      for (const r of results) this.unsaved.delete(r.eventId);
    } else {
      this.counts.proposalFailures += 1;
      this.logger.warn('notification outcomes not recorded; trying again', { count: results.length, error: failure });
    }
    if (this.stopped) return;
    if (this.unsaved.size > 0 && this.flushTimer === null) {
      this.flushTimer = this.host.clock.setTimeout(() => this.flush(), failure === null ? 0 : this.options.idlePassMs / 4);
    }
    this.wake();
  }
}
