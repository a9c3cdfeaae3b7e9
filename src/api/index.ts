// The api folder's public surface: the server, its routes, and the interfaces the wiring fills.
export { ApiServer, splitHostPort, type ApiOptions, type RequestContext, type Route } from './server.js';
export { ForwardChannel, DEFAULT_FORWARD_LIMITS, type ForwardLink, type ForwardLimits, type ForwardOutcome, type ForwardStats } from './forward-channel.js';
export { parseForwardFrame, FORWARD_BATCH_ITEMS_MAX, FORWARD_BATCH_BYTES_MAX, FORWARD_HEADERS_MAX, type ForwardAnswer, type ForwardFrame, type ForwardRequest } from './forward-wire.js';
export { BufferedReply, type Reply, type RequestHead } from './reply.js';
export { clusterRoutes } from './routes-cluster.js';
export { jobRoutes } from './routes-jobs.js';
export { runRoutes } from './routes-runs.js';
export { parseWait, WAIT_MS_MAX } from './wait.js';
export { workerRoutes, claimItem, WORKER_SEEN_WINDOW_MS } from './routes-workers.js';
export { applyRoutes } from './routes-apply.js';
export { backupRoutes } from './routes-backup.js';
export { notifyRoutes } from './routes-notify.js';
export { outputRoutes, pump, OUTPUT_PROXIES_MAX, OUTPUT_DRAIN_TIMEOUT_MS, type DrainTarget } from './routes-output.js';
export { consoleRoutes, chooseEncoding, CONSOLE_CSP, type AssetReader } from './console.js';
export { scheduleRoutes, isoInZone } from './routes-schedule.js';
export { jobFilterOf, matchesJob, filteredJobs, SCAN_JOBS_MAX, type JobFilter } from './job-filter.js';
export { STATUS_BY_CODE } from './status-by-code.js';
export type * from './services.js';
