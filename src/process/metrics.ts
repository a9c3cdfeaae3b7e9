// Every metric of one agent process, registered in one Registry and rendered in one place.
// Components keep plain counters; this file names them for Prometheus and reads them at
// scrape time. Durations arrive through the node's events and the API's observer.
import { monitorEventLoopDelay } from 'node:perf_hooks';
import type { RequestObserver } from '../api/index.js';
import type { ExecutionPlane } from '../execution/index.js';
import { CLAIM_LATENCY_BUCKETS_MS } from '../scheduler/index.js';
import { Registry, SERIES_PER_FAMILY_MAX, type Gauge, type Histogram } from '../metrics/index.js';
import type { NodeEvents } from '../node/index.js';
import type { TransportMetrics } from '../rpc/index.js';
import type { JobNode } from './services.js';
import type { NotifyPlane } from '../notify/index.js';
import { COUNTED_STATUSES, DURATION_BUCKETS_MS, FUNCTION_SERIES_MAX, LATENESS_BUCKETS_MS, type JobTable } from '../statemachine/index.js';

const START_LATENESS_BUCKETS_SECONDS: readonly number[] = [0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 5];
/**
 * The loop-delay probe is a timer that fires this often and records how long each interval
 * really took: reported minus this, as lateness. Every firing wakes an idle agent, so it is
 * no finer than a stall worth seeing (a 10 ms probe was most of an idle agent's wake-ups).
 */
const LOOP_DELAY_RESOLUTION_MS = 50;

/** The metrics of one agent, and the hooks that feed them. */
export class ProcessMetrics {
  readonly registry = new Registry();
  private readonly fsyncSeconds: Histogram;
  private readonly commitSeconds: Histogram;
  private readonly httpSeconds: Histogram;
  private readonly startLatenessSeconds: Histogram;
  private readonly loopDelay = monitorEventLoopDelay({ resolution: LOOP_DELAY_RESOLUTION_MS });
  readonly nodeEvents: NodeEvents;
  readonly requests: RequestObserver;

  constructor() {
    const r = this.registry;
    this.fsyncSeconds = r.histogram('chime_storage_fsync_seconds', 'Time to persist one Ready (one synced batch)');
    this.commitSeconds = r.histogram('chime_raft_commit_seconds', 'Proposal to apply on the leader');
    this.httpSeconds = r.histogram('chime_http_request_seconds', 'HTTP request handling time');
    this.startLatenessSeconds = r.histogram('chime_executor_start_lateness_seconds', 'Scheduled instant to process start on this node', START_LATENESS_BUCKETS_SECONDS);
    const leaderChanges = r.counter('chime_raft_leader_changes_total', 'Times this node saw the leader change');
    const proposals = r.counter('chime_raft_proposals_total', 'Proposals by outcome');
    const snapshotsTaken = r.counter('chime_raft_snapshots_taken_total', 'Snapshots of the state machine written by this node');
    const snapshotEncodeSeconds = r.histogram('chime_raft_snapshot_encode_seconds', 'Time spent encoding one snapshot of the state machine (a leader applies nothing meanwhile)');
    const handOffs = r.counter('chime_raft_snapshot_handoffs_total', 'Times this leader handed leadership on before a long snapshot');
    const restored = r.counter('chime_raft_snapshots_restored_total', 'Snapshots received from a leader and restored');
    const httpRequests = r.counter('chime_http_requests_total', 'HTTP requests by route and status');
    const silentWorkers = r.counter('chime_cluster_silent_workers_removed_total', 'Worker members this node, as leader, removed for silence');
    const accessRefused = r.counter('chime_http_access_refused_total', 'Requests the access check refused, by code (TOKEN_MISSING, TOKEN_INVALID, FORBIDDEN, FOREIGN_ORIGIN, …)');
    this.nodeEvents = {
      persisted: (ms) => this.fsyncSeconds.observe(ms / 1000),
      committed: (ms) => this.commitSeconds.observe(ms / 1000),
      proposalSettled: (outcome) => proposals.inc({ outcome }),
      leaderChanged: () => leaderChanges.inc(),
      snapshotTaken: (_index, _bytes, encodeMs) => {
        snapshotsTaken.inc();
        snapshotEncodeSeconds.observe(encodeMs / 1000);
      },
      snapshotHandOff: () => handOffs.inc(),
      snapshotRestored: () => restored.inc(),
      silentWorkerRemoved: () => silentWorkers.inc(),
    };
    // Every answer counts once: the increment of each (route, status) is looked up once, not
    // its label text built per request. Routes are the API's (a fixed list), statuses few;
    // the bound only guards against a caller that would pass anything else.
    const answeredBy = new Map<string, Map<number, (by?: number) => void>>();
    let answeredKept = 0;
    this.requests = {
      answered: (route, status, seconds) => {
        let byStatus = answeredBy.get(route);
        let inc = byStatus?.get(status);
        if (inc === undefined) {
          inc = httpRequests.incrementer({ route, status: String(status) });
          if (answeredKept < SERIES_PER_FAMILY_MAX) {
            if (byStatus === undefined) answeredBy.set(route, (byStatus = new Map()));
            byStatus.set(status, inc);
            answeredKept += 1;
          }
        }
        inc();
        this.httpSeconds.observe(seconds);
      },
      refused: (code) => accessRefused.inc({ code }),
    };
  }

  observeStartLateness(lateMs: number): void {
    this.startLatenessSeconds.observe(lateMs / 1000);
  }

  /** Gauges and counters read from the node, the execution plane and the transport at scrape time. */
  bind(node: JobNode, plane: ExecutionPlane, transport: TransportMetrics): void {
    const r = this.registry;
    const status = () => node.status();
    r.gauge('chime_raft_term', 'Current Raft term').set(() => status().hardState.term);
    r.gauge('chime_raft_commit_index', 'Highest log index known committed').set(() => status().hardState.commit);
    r.gauge('chime_raft_applied_index', 'Highest log index applied to the state machine').set(() => node.appliedIndex());
    r.gauge('chime_raft_is_leader', '1 when this node is the leader').set(() => (node.isLeader() ? 1 : 0));
    const lastContact = r.gauge('chime_peer_last_contact_seconds', 'Seconds since a message from each peer');
    this.loopDelay.enable();
    const loop = r.gauge('chime_event_loop_delay_seconds', 'How late the event loop ran a timer, quantiles since the last scrape');
    const memory = () => process.memoryUsage();
    r.gauge('process_resident_memory_bytes', 'Resident memory of this agent process').set(() => memory().rss);
    r.gauge('nodejs_heap_used_bytes', 'V8 heap in use').set(() => memory().heapUsed);
    r.gauge('nodejs_external_memory_bytes', 'Memory of C++ objects bound to JS objects (buffers)').set(() => memory().external);
    const stats = () => plane.stats();
    r.gauge('chime_executor_running', 'Runs executing or waiting for their instant on this node').set(() => stats().running);
    r.gauge('chime_executor_slots', 'Runs this node may execute at once').set(() => stats().slots);
    r.gauge('chime_executor_outbox_reports', 'Reports not yet acknowledged by the leader').set(() => stats().outboxReports);
    r.counter('chime_executor_started_reports_skipped_total', 'Started reports not sent because the run ended first (its finished report carries the start)').from(() => stats().startedReportsSkipped);
    r.gauge('chime_executor_start_lateness_seconds_max', 'Largest instant-to-process-start delay seen on this node').set(() => stats().startLatenessMaxMs / 1000);
    this.bindScheduler(plane);
    for (const name of Object.keys(transport)) {
      const metric = `chime_rpc_${name.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`)}_total`;
      r.counter(metric, `Peer transport: ${name}`).from(() => {
        const value: unknown = Reflect.get(transport, name);
        return typeof value === 'number' ? value : 0;
      });
    }
    this.scrapeTime = { node, lastContact, loop };
  }

  /** The forward channel's counters (writes this node took to the leader, and ran for others); call after the API serves. */
  bindForwarding(stats: () => Readonly<Record<string, number>>): void {
    const levels = new Set(['inFlight', 'held']);
    for (const name of Object.keys(stats())) {
      const snake = name.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);
      const read = () => stats()[name] ?? 0;
      if (levels.has(name)) this.registry.gauge(`chime_forward_${snake}`, `Forward channel: ${name} now`).set(read);
      else this.registry.counter(`chime_forward_${snake}_total`, `Forward channel: ${name}`).from(read);
    }
  }

  /**
   * Per-job figures and notification counters, read from the replicated table at scrape time:
   * every node shows the same values for the same applied index. Jobs beyond the table's
   * series limit are summed under job="_other".
   */
  bindJobs(table: () => JobTable, notify: NotifyPlane): void {
    const r = this.registry;
    const figures = () => table().jobFigures();
    r.collect('chime_job_runs_total', 'Runs by final outcome (after all retries; skipped as recorded), per job', 'counter', function* () {
      for (const { jobId, figures: f } of figures()) for (const status of COUNTED_STATUSES) yield { labels: { job: jobId, status }, value: f.runs[status] };
    });
    r.collect('chime_job_last_success_timestamp_seconds', 'When the job last had a run succeed (Unix seconds)', 'gauge', function* () {
      for (const { jobId, figures: f } of figures()) if (f.lastSuccessAt !== null) yield { labels: { job: jobId }, value: f.lastSuccessAt / 1000 };
    });
    const seconds = (bounds: readonly number[]) => bounds.map((ms) => ms / 1000);
    r.collectHistogram('chime_job_run_duration_seconds', 'First start to final finish of a run, across its retries', seconds(DURATION_BUCKETS_MS), function* () {
      for (const { jobId, figures: f } of figures()) yield { labels: { job: jobId }, buckets: f.duration.buckets, sum: f.duration.sumMs / 1000, count: f.duration.count };
    });
    r.collectHistogram('chime_fire_lateness_seconds', 'Scheduled instant to the first start of a run', seconds(LATENESS_BUCKETS_MS), function* () {
      for (const { jobId, figures: f } of figures()) yield { labels: { job: jobId }, buckets: f.lateness.buckets, sum: f.lateness.sumMs / 1000, count: f.lateness.count };
    });
    // Per function (replicated, so every node shows the same): runs queued and held by workers.
    const functions = () => table().functionSummaries(0).slice(0, FUNCTION_SERIES_MAX);
    r.collect('chime_function_queued', 'Runs waiting in the function queue (at most 1000 functions)', 'gauge', function* () {
      for (const f of functions()) yield { labels: { function: f.name }, value: f.queued };
    });
    r.collect('chime_function_running', 'Runs of the function held by pull workers (at most 1000 functions)', 'gauge', function* () {
      for (const f of functions()) yield { labels: { function: f.name }, value: f.running };
    });
    const stats = () => table().notificationStats();
    r.gauge('chime_notify_pending', 'Webhook deliveries owed and not yet acknowledged (replicated)').set(() => stats().pending);
    r.counter('chime_notify_delivered_total', 'Webhook deliveries acknowledged with a 2xx (replicated)').from(() => stats().delivered);
    r.counter('chime_notify_failed_total', 'Webhook deliveries given up after the retry window, or dropped (replicated)').from(() => stats().failed);
    r.counter('chime_notify_dropped_total', 'Pending webhook deliveries dropped because the queue was full (replicated)').from(() => stats().dropped);
    const local = () => notify.stats();
    r.collect('chime_notify_attempts_total', 'Webhook attempts this leader made this term, by outcome', 'counter', function* () {
      const s = local();
      if (s === null) return;
      yield { labels: { outcome: 'delivered' }, value: s.delivered };
      yield { labels: { outcome: 'retry' }, value: s.retried };
      yield { labels: { outcome: 'gave_up' }, value: s.gaveUp };
    });
    r.gauge('chime_notify_in_flight', 'Webhook requests this leader has open').set(() => local()?.inFlight ?? 0);
    r.gauge('chime_notify_unrecorded', 'Delivery outcomes this leader decided that are not yet committed').set(() => local()?.unsaved ?? 0);
  }

  /** Gauges refreshed on every scrape: peers come and go, and loop delay is "since the last scrape". */
  private scrapeTime: { readonly node: JobNode; readonly lastContact: Gauge; readonly loop: Gauge } | null = null;

  render(): string {
    const bound = this.scrapeTime;
    if (bound !== null) {
      bound.lastContact.clear();
      for (const member of bound.node.clusterView().members) {
        if (member.id !== bound.node.id && member.lastContactMs !== null) bound.lastContact.set(member.lastContactMs / 1000, { peer: member.id });
      }
      const lateSeconds = (ns: number): number => Math.max(0, ns / 1e6 - LOOP_DELAY_RESOLUTION_MS) / 1000;
      for (const q of [0.5, 0.99]) bound.loop.set(lateSeconds(this.loopDelay.percentile(q * 100)), { quantile: String(q) });
      bound.loop.set(lateSeconds(this.loopDelay.max), { quantile: '1' });
      this.loopDelay.reset();
    }
    return this.registry.render();
  }

  private bindScheduler(plane: ExecutionPlane): void {
    const r = this.registry;
    const m = () => plane.schedulerMetrics();
    const counter = (name: string, help: string, read: (s: NonNullable<ReturnType<typeof m>>) => number) => r.counter(name, help).from(() => {
      const s = m();
      return s === null ? 0 : read(s);
    });
    const gauge = (name: string, help: string, read: (s: NonNullable<ReturnType<typeof m>>) => number) => r.gauge(name, help).set(() => {
      const s = m();
      return s === null ? 0 : read(s);
    });
    gauge('chime_scheduler_leading', '1 while this node runs the scheduler', () => 1);
    // Counters restart with each leadership term (a Prometheus counter reset).
    counter('chime_scheduler_fires_total', 'Run records fired to execute this term', (s) => s.fires);
    counter('chime_scheduler_skipped_total', 'Instants recorded as skipped this term', (s) => s.skipped);
    counter('chime_scheduler_duplicates_total', 'Fires the table found already recorded this term', (s) => s.duplicates);
    counter('chime_scheduler_retries_total', 'Retries recorded this term', (s) => s.retriesRecorded);
    counter('chime_scheduler_lost_total', 'Executions declared lost by the scheduler this term', (s) => s.lostDeclared);
    counter('chime_scheduler_fire_passes_total', 'Passes of the fire loop over due jobs and queued fires this term', (s) => s.firePasses);
    counter('chime_scheduler_fire_batches_total', 'Fire proposals this term', (s) => s.fireBatches);
    counter('chime_scheduler_proposal_failures_total', 'Scheduler proposals that failed this term', (s) => s.proposalFailures);
    counter('chime_scheduler_queue_drops_total', 'Entries dropped by full scheduler queues this term', (s) => s.queueDrops);
    counter('chime_worker_claims_total', 'Pull-worker claims answered this term (with or without runs)', (s) => s.claimsAnswered);
    counter('chime_worker_runs_claimed_total', 'Runs handed to pull workers this term', (s) => s.runsClaimed);
    counter('chime_worker_claims_abandoned_total', 'Claims whose worker hung up before the answer, this term', (s) => s.claimsAbandoned);
    counter('chime_worker_claims_refused_total', 'Claims refused because too many were waiting this term', (s) => s.claimsRefused);
    counter('chime_worker_lease_expiries_total', 'Claimed attempts recorded lost because their lease ran out, this term', (s) => s.leaseExpiries);
    counter('chime_worker_claims_refused_held_total', 'Claims refused (429 WORKER_CLAIMS_FULL) because the worker held its limit of attempts, this term', (s) => s.claimsRefusedHeld);
    counter('chime_function_queue_refused_total', 'Submissions refused (429 FUNCTION_QUEUE_FULL) because the function queue was full, this term', (s) => s.functionQueueRefused);
    r.collectHistogram('chime_function_claim_latency_seconds', 'Queued (or due) to claimed, per function, claims this leader answered this term', CLAIM_LATENCY_BUCKETS_MS.map((ms) => ms / 1000), function* () {
      const s = m();
      if (s === null) return;
      for (const [fn, h] of s.claimLatencyByFunction) yield { labels: { function: fn }, buckets: h.buckets, sum: h.sumMs / 1000, count: h.count };
    });
    r.collect('chime_function_lease_expiries_total', 'Claimed attempts recorded lost because their lease ran out, per function, this term', 'counter', function* () {
      const s = m();
      if (s === null) return;
      for (const [fn, n] of s.leaseExpiriesByFunction) yield { labels: { function: fn }, value: n };
    });
    gauge('chime_worker_claim_waiters', 'Claims parked on this leader', (s) => s.claimWaiters);
    gauge('chime_scheduler_queued_fires', 'Fires waiting to be proposed', (s) => s.queuedFires);
    gauge('chime_scheduler_waiting_manual_fires', 'Manual fires recorded waiting for capacity (they outlive the leader)', (s) => s.owedManualFires);
    gauge('chime_scheduler_owed_after_fires', 'After fires the table owes (upstream succeeded, downstream fire not recorded yet)', (s) => s.owedAfterFires);
    gauge('chime_scheduler_waiting_for_capacity', 'Due instants waiting for a free executor slot', (s) => s.waitingForCapacity);
    gauge('chime_scheduler_retry_queue', 'Runs waiting for their retry backoff', (s) => s.retryQueue);
    gauge('chime_scheduler_fire_lateness_seconds_max', 'Largest instant-to-commit lateness of a fire this term', (s) => s.latenessMaxMs / 1000);
    r.summary('chime_scheduler_fire_lateness_seconds', 'Instant to commit of recent fires (negative: committed ahead)', () => {
      const s = m();
      if (s === null) return null;
      const q = (p: number) => (s.latenessQuantileMs(p) ?? Number.NaN) / 1000;
      return { quantiles: new Map([[0.5, q(0.5)], [0.99, q(0.99)]]), sum: s.latenessSumMs / 1000, count: s.latenessCount };
    });
    r.summary('chime_scheduler_fire_propose_seconds', 'Propose-to-apply time of fire batches', () => {
      const s = m();
      return s === null ? null : { quantiles: new Map(), sum: s.fireProposeSumMs / 1000, count: s.fireProposeCount };
    });
    gauge('chime_scheduler_fire_lead_seconds', 'How long before their instant fires are proposed now', (s) => s.fireLeadMs / 1000);
    gauge('chime_scheduler_fire_propose_seconds_max', 'Longest propose-to-apply time of a fire batch', (s) => s.fireProposeMaxMs / 1000);
  }
}
