// Public surface of the scheduler. Other folders import from here only.
export { Scheduler } from './scheduler.js';
export { SchedulerMetrics } from './metrics.js';
export { DEFAULT_OPTIONS, resolveOptions, type SchedulerOptions } from './options.js';
export {
  DUE_SCAN_MAX, FIRE_BATCH_MAX, FOLLOW_UPS_MAX, JOB_RECORDS_PER_PASS_MAX, LATENESS_SAMPLES_MAX, LOST_PER_STEP_MAX,
  PROPOSALS_IN_FLIGHT_MAX, QUEUED_FIRES_MAX, REDISPATCH_PER_STEP_MAX, RETRY_QUEUE_MAX, RUN_WAITERS_MAX, CLAIM_LATENCY_BUCKETS_MS,
} from './options.js';
export type {
  AwaitRunResult, ExecuteOrder, ExecuteRefusal, ExecutorNode, ExecutorReport, RunNowOptions, RunNowResult, SchedulerHost, TimerHandle,
} from './types.js';
