// The notifier's life on one node: it runs only while this node leads, from the moment its
// term's read barrier confirmed the table is current (as the scheduler does), and is woken by
// every committed command that can owe or settle a delivery. `sendTest` sends one signed test
// event to each target of a job at once, outside the log (chime notify test).
import { randomUUID } from 'node:crypto';
import { ChimeError } from '../errors/index.js';
import type { Logger } from '../log/index.js';
import type { ApplyResult, Command, JobTable, NotifyResultsCommand, NotifyTarget } from '../statemachine/index.js';
import { postWebhook } from './http-post.js';
import { NOTIFIER_DEFAULTS, Notifier, type NotifierClock, type NotifierOptions, type NotifierStats, type PostOutcome } from './notifier.js';
import { requestOf, type WebhookBody, type WebhookRequest } from './webhook.js';

export interface NotifyNode {
  isLeader(): boolean;
  term(): number;
  read(): Promise<void>;
  table(): JobTable;
  propose(command: NotifyResultsCommand): Promise<ApplyResult>;
}

export type NotifyPlaneOptions = {
  /** The notify key (`--notify-key-file`), or null: events are still recorded, never sent. */
  readonly key: Uint8Array | null;
  readonly cluster: string;
  readonly logger: Logger;
  readonly clock?: NotifierClock;
  readonly post?: (request: WebhookRequest, timeoutMs: number) => Promise<PostOutcome>;
  readonly tuning?: Partial<Omit<NotifierOptions, 'key' | 'cluster'>>;
  /**
   * A target's secret headers as they are sent: sealed values (--secrets-key-file) opened,
   * or why they cannot be. Absent: values are sent as stored (a node without sealing).
   */
  readonly openSecrets?: (jobId: string, index: number, target: NotifyTarget) => NotifyTarget | { readonly error: string };
};

export type TestDelivery = { readonly url: string; readonly eventId: string; readonly status: number | null; readonly error: string | null };

/** Node's timers behind the notifier's clock: handles are the timers themselves, narrowed back by a lookup. */
function realClock(): NotifierClock {
  const timers = new Set<NodeJS.Timeout>();
  return {
    now: () => Date.now(),
    setTimeout: (fn, ms) => {
      const timer = setTimeout(() => {
        timers.delete(timer);
        fn();
      }, ms);
      timers.add(timer);
      return timer;
    },
    clearTimeout: (handle) => {
      for (const timer of timers) {
        if (timer !== handle) continue;
        clearTimeout(timer);
        timers.delete(timer);
        return;
      }
    },
  };
}

const WAKING_COMMANDS: ReadonlySet<Command['type']> = new Set(['fire', 'runStarted', 'runFinished', 'runLost', 'runReports', 'notifyResults']);

export class NotifyPlane {
  private notifier: Notifier | null = null;
  private notifierTerm = 0;
  private warnedNoKey = false;
  private readonly clock: NotifierClock;
  private readonly post: (request: WebhookRequest, timeoutMs: number) => Promise<PostOutcome>;
  private readonly options: NotifierOptions | null;

  constructor(private readonly node: NotifyNode, private readonly config: NotifyPlaneOptions) {
    this.clock = config.clock ?? realClock();
    this.post = config.post ?? postWebhook;
    this.options = config.key === null ? null : { ...NOTIFIER_DEFAULTS, ...config.tuning, key: config.key, cluster: config.cluster };
  }

  leadershipChanged(): void {
    if (!this.node.isLeader()) {
      this.stopNotifier();
      return;
    }
    const term = this.node.term();
    if (this.notifier !== null && this.notifierTerm === term) return;
    this.stopNotifier();
    this.notifierTerm = term;
    if (this.options === null) {
      if (!this.warnedNoKey) this.config.logger.warn('notifications are recorded but not sent: this node has no --notify-key-file');
      this.warnedNoKey = true;
      return;
    }
    const options = this.options;
    this.node.read().then(
      () => {
        if (!this.node.isLeader() || this.node.term() !== term || this.notifier !== null) return;
        this.notifier = new Notifier(this.hostFor(), options, this.config.logger);
        this.notifier.start();
        this.config.logger.info('notifier started', { term });
      },
      (error: unknown) => this.config.logger.warn('notifier not started: leadership not confirmed', { term, error: String(error) }),
    );
  }

  onApplied(command: Command): void {
    if (this.notifier !== null && WAKING_COMMANDS.has(command.type)) this.notifier.wake();
  }

  stop(): void {
    this.stopNotifier();
  }

  /** This leader's notifier counters, or null when it is not running here. */
  stats(): NotifierStats | null {
    return this.notifier?.stats() ?? null;
  }

  /** One signed `test` event to every notify target of the job, now; the answers as they came. */
  async sendTest(jobId: string): Promise<TestDelivery[]> {
    const options = this.options;
    if (options === null) throw new ChimeError('NOTIFY_NOT_CONFIGURED', 'this node has no --notify-key-file: it cannot sign a webhook');
    const job = this.node.table().getJob(jobId);
    if (job === null) throw new ChimeError('JOB_NOT_FOUND', `job "${jobId}" does not exist`);
    if (job.notify.length === 0) throw new ChimeError('NO_NOTIFY_TARGETS', `job "${jobId}" has no notify targets`);
    return Promise.all(job.notify.map(async (stored, index): Promise<TestDelivery> => {
      const body: WebhookBody = {
        eventId: `test:${randomUUID()}`, event: 'test', jobId, runId: null, attempt: null, status: null, scheduledAt: null,
        finishedAt: null, node: null, exitCode: null, outputTail: '', cluster: options.cluster,
      };
      const target = this.opened(jobId, index, stored);
      if ('error' in target) return { url: stored.url, eventId: body.eventId, status: null, error: target.error };
      const outcome = await this.post(requestOf(options.key, target.url, body, target), options.deliveryTimeoutMs);
      return { url: target.url, eventId: body.eventId, status: 'status' in outcome ? outcome.status : null, error: 'error' in outcome ? outcome.error : null };
    }));
  }

  private opened(jobId: string, index: number, target: NotifyTarget): NotifyTarget | { readonly error: string } {
    return this.config.openSecrets === undefined || Object.keys(target.secretHeaders).length === 0 ? target : this.config.openSecrets(jobId, index, target);
  }

  private stopNotifier(): void {
    this.notifier?.stop();
    this.notifier = null;
  }

  private hostFor(): ConstructorParameters<typeof Notifier>[0] {
    const node = this.node;
    return {
      clock: this.clock,
      due: (nowMs, limit) => node.table().dueNotifications(nowMs, limit),
      earliestDueAt: () => node.table().earliestNotificationDueAt(),
      target: (jobId, index, url) => {
        const target = node.table().getJob(jobId)?.notify[index];
        return target !== undefined && target.url === url ? this.opened(jobId, index, target) : null;
      },
      propose: (command) => node.propose(command),
      post: (request, timeoutMs) => this.post(request, timeoutMs),
    };
  }
}
