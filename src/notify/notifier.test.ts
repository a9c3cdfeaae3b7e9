import { test } from 'node:test';
import assert from 'node:assert/strict';
import { silentLogger } from '../log/index.js';
import type { ApplyResult, FinishedReport, NotifyResultsCommand } from '../statemachine/index.js';
import { Driver, T0, scheduled } from '../../test/support/job-table.js';
import { VirtualClock, flush } from '../../test/support/scheduler-host.js';
import { NOTIFIER_DEFAULTS, Notifier, backoffMs, type NotifierClock, type NotifierHost, type NotifierOptions, type PostOutcome } from './notifier.js';
import { EVENT_ID_HEADER, SIGNATURE_HEADER, verifySignature, type WebhookRequest } from './webhook.js';

const KEY = new TextEncoder().encode('a-notify-key-of-enough-bytes');
const HOOK = 'http://hooks.test/a';
const OTHER = 'http://hooks.test/b';

function clockOf(clock: VirtualClock): NotifierClock {
  return {
    now: () => clock.nowMs,
    setTimeout: (fn, ms) => clock.setTimer(ms, fn),
    clearTimeout: (handle) => {
      if (typeof handle === 'object' && handle !== null && 'cancel' in handle && typeof handle.cancel === 'function') handle.cancel();
    },
  };
}

type Call = { request: WebhookRequest; atMs: number; answer(outcome: PostOutcome): void };

/** A table with job `a` (notify on failed to HOOK, and OTHER if asked), a fake receiver, and a notifier over both. */
class Rig {
  readonly clock = new VirtualClock(T0);
  readonly driver = new Driver();
  readonly calls: Call[] = [];
  /** Answer every post at once with this, or leave it open (null) for the test to answer. */
  autoAnswer: ((request: WebhookRequest) => PostOutcome) | null = () => ({ status: 204 });
  /** When set, the host cannot open the target's secret headers for this reason. */
  openError: string | null = null;
  /** When false, proposals never settle (a leader that died before its entry committed). */
  proposalsCommit = true;
  readonly proposed: NotifyResultsCommand[] = [];
  private runs = 0;

  constructor(targets: readonly string[] = [HOOK]) {
    this.driver.put('a', T0, { schedule: '@manual', concurrency: 'allow', notify: targets.map((url) => ({ on: ['failed'], url, secretHeaders: { Authorization: 'Bearer secret-1' } })) });
  }

  /** One failed run of job a: one event per target. */
  failRun(): string {
    this.runs += 1;
    const runId = `r${this.runs}`;
    const at = this.clock.nowMs;
    this.driver.fire(at, { ...scheduled('a', runId, at), trigger: 'manual' });
    const report: FinishedReport = { kind: 'finished', runId, attempt: 1, node: 'n1', at, startedAt: at, status: 'failed', exitCode: 1, output: 'boom', outputTruncated: false, error: null };
    this.driver.apply({ type: 'runReports', at, reports: [report] });
    return runId;
  }

  host(): NotifierHost {
    return {
      clock: clockOf(this.clock),
      due: (now, limit) => this.driver.table.dueNotifications(now, limit),
      earliestDueAt: () => this.driver.table.earliestNotificationDueAt(),
      target: (jobId, index, url) => {
        const t = this.driver.table.getJob(jobId)?.notify[index];
        if (t === undefined || t.url !== url) return null;
        return this.openError === null ? t : { error: this.openError };
      },
      propose: (command) => {
        this.proposed.push(command);
        if (!this.proposalsCommit) return new Promise<ApplyResult>(() => undefined);
        return Promise.resolve(this.driver.apply(command));
      },
      post: (request) => new Promise<PostOutcome>((resolve) => {
        const call: Call = { request, atMs: this.clock.nowMs, answer: resolve };
        this.calls.push(call);
        if (this.autoAnswer !== null) resolve(this.autoAnswer(request));
      }),
    };
  }

  notifier(tuning: Partial<NotifierOptions> = {}): Notifier {
    return new Notifier(this.host(), { ...NOTIFIER_DEFAULTS, key: KEY, cluster: 'test', ...tuning }, silentLogger);
  }

  /** Lets settled promises run first (VirtualClock.advance looks for due timers before it flushes). */
  async advance(ms: number): Promise<void> {
    await flush();
    await this.clock.advance(ms);
  }

  eventIds(): string[] {
    return this.calls.map((c) => c.request.headers[EVENT_ID_HEADER] ?? '?');
  }
}

test('backoff doubles from the base and stops at the cap', () => {
  assert.deepEqual([1, 2, 3, 4, 12].map((n) => backoffMs(n, 1000, 60_000)), [1000, 2000, 4000, 8000, 60_000]);
});

test('a due event is sent once, signed, with the target headers, and recorded delivered', async () => {
  const rig = new Rig();
  const runId = rig.failRun();
  const notifier = rig.notifier();
  notifier.start();
  await rig.advance(100);
  assert.equal(rig.calls.length, 1);
  const { request } = rig.calls[0] ?? assert.fail('no call');
  assert.equal(request.url, HOOK);
  assert.equal(request.headers[EVENT_ID_HEADER], `${runId}:failed:0`);
  assert.equal(request.headers['Authorization'], 'Bearer secret-1');
  assert.ok(verifySignature(KEY, request.body, request.headers[SIGNATURE_HEADER]), 'the signature verifies');
  assert.ok(!verifySignature(new TextEncoder().encode('another-key-of-enough-bytes'), request.body, request.headers[SIGNATURE_HEADER]));
  const body: unknown = JSON.parse(request.body);
  assert.deepEqual(body, {
    eventId: `${runId}:failed:0`, event: 'failed', jobId: 'a', runId, attempt: 1, status: 'failed', scheduledAt: new Date(T0).toISOString(),
    finishedAt: new Date(T0).toISOString(), node: 'n1', exitCode: 1, outputTail: 'boom', cluster: 'test',
  });
  assert.equal(rig.driver.table.getNotification(`${runId}:failed:0`)?.status, 'delivered');
  await rig.advance(60_000);
  assert.equal(rig.calls.length, 1, 'a delivered event is not sent again');
  assert.deepEqual(notifier.stats(), { attempts: 1, delivered: 1, retried: 0, gaveUp: 0, proposalFailures: 0, inFlight: 0, unsaved: 0 });
});

test('a target whose secret headers cannot be opened is not sent: the attempt fails with the reason and is retried', async () => {
  const rig = new Rig();
  rig.openError = 'SECRET_KEY_MISMATCH: notify[0].secretHeaders.Authorization is sealed, but this node has no --secrets-key-file';
  rig.failRun();
  rig.notifier().start();
  await rig.advance(1500);
  assert.equal(rig.calls.length, 0, 'nothing went out without its secret headers');
  const n = rig.driver.table.getNotification('r1:failed:0');
  assert.equal(n?.status, 'pending');
  assert.ok((n?.attempts ?? 0) >= 1);
  assert.match(n?.lastError ?? '', /SECRET_KEY_MISMATCH/);
  rig.openError = null;
  await rig.advance(5000);
  assert.equal(rig.calls.length, 1, 'sent once the secrets open');
  assert.equal(rig.driver.table.getNotification('r1:failed:0')?.status, 'delivered');
});

test('a failing receiver is retried with exponential backoff until a 2xx', async () => {
  const rig = new Rig();
  const answers = [500, 502, 200];
  rig.autoAnswer = () => ({ status: answers.shift() ?? 200 });
  rig.failRun();
  rig.notifier().start();
  await rig.advance(10_000);
  const times = rig.calls.map((c) => c.atMs - T0);
  assert.equal(times.length, 3);
  // Attempt 1 at once; attempt 2 one base later; attempt 3 two bases after that (plus the flush delays).
  const gaps = [(times[1] ?? 0) - (times[0] ?? 0), (times[2] ?? 0) - (times[1] ?? 0)];
  assert.ok(gaps[0] !== undefined && gaps[0] >= 1000 && gaps[0] < 1100, `gap ${gaps[0]}`);
  assert.ok(gaps[1] !== undefined && gaps[1] >= 2000 && gaps[1] < 2100, `gap ${gaps[1]}`);
  const n = rig.driver.table.getNotification('r1:failed:0');
  assert.equal(n?.status, 'delivered');
  assert.equal(n?.attempts, 3);
  assert.equal(n?.lastError, 'HTTP 502');
});

test('after the retry window a failing delivery is given up and recorded failed', async () => {
  const rig = new Rig();
  rig.autoAnswer = () => ({ error: 'connect ECONNREFUSED' });
  rig.failRun();
  rig.notifier({ retryWindowMs: 5000 }).start();
  await rig.advance(60_000);
  const n = rig.driver.table.getNotification('r1:failed:0');
  assert.equal(n?.status, 'failed');
  assert.match(n?.lastError ?? '', /gave up after \d+ attempts: connect ECONNREFUSED/);
  const attempts = rig.calls.length;
  await rig.advance(60_000);
  assert.equal(rig.calls.length, attempts, 'a failed delivery is not tried again');
});

test('per-target concurrency: a slow receiver holds at most its limit, and does not starve another target', async () => {
  const rig = new Rig([HOOK, OTHER]);
  rig.autoAnswer = null;
  for (let i = 0; i < 10; i++) rig.failRun();
  rig.notifier({ perTargetInFlightMax: 3 }).start();
  await rig.advance(50);
  const open = (url: string) => rig.calls.filter((c) => c.request.url === url);
  assert.equal(open(HOOK).length, 3);
  assert.equal(open(OTHER).length, 3);
  // OTHER answers; HOOK stays silent: OTHER's events all go through, HOOK's stay at 3 open.
  for (let round = 0; round < 10; round++) {
    for (const c of open(OTHER)) c.answer({ status: 200 });
    await rig.advance(50);
  }
  assert.equal(open(HOOK).length, 3);
  assert.equal(new Set(open(OTHER).map((c) => c.request.eventId)).size, 10);
  assert.equal(rig.driver.table.notificationStats().delivered, 10);
});

test('failover: a new leader resends exactly the events whose outcome was not committed', async () => {
  const rig = new Rig();
  for (let i = 0; i < 3; i++) rig.failRun();
  const first = rig.notifier();
  first.start();
  await rig.advance(100);
  assert.deepEqual(rig.eventIds(), ['r1:failed:0', 'r2:failed:0', 'r3:failed:0']);
  // Two more events; the receiver acknowledges them but the leader dies before the outcome commits.
  rig.failRun();
  rig.failRun();
  rig.proposalsCommit = false;
  first.wake();
  await rig.advance(100);
  assert.equal(rig.calls.length, 5);
  first.stop();
  rig.proposalsCommit = true;
  const second = rig.notifier();
  second.start();
  await rig.advance(100);
  // Only the two in the crash window are sent again; the committed three never are.
  assert.deepEqual(rig.eventIds().slice(5), ['r4:failed:0', 'r5:failed:0']);
  assert.equal(rig.driver.table.notificationStats().delivered, 5);
  await rig.advance(60_000);
  assert.equal(rig.calls.length, 7);
});

test('each attempt is bounded by the delivery timeout the notifier passes on', async () => {
  const rig = new Rig();
  const timeouts: number[] = [];
  const host = rig.host();
  const notifier = new Notifier({ ...host, post: (request, timeoutMs) => {
    timeouts.push(timeoutMs);
    return host.post(request, timeoutMs);
  } }, { ...NOTIFIER_DEFAULTS, key: KEY, cluster: 'test', deliveryTimeoutMs: 1234 }, silentLogger);
  rig.failRun();
  notifier.start();
  await rig.advance(100);
  assert.deepEqual(timeouts, [1234]);
});
