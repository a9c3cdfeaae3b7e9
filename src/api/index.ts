// The api folder's public surface: the server, its routes, and the interfaces the wiring fills.
export { ApiServer, splitHostPort, type ApiOptions, type ApiTls, type RequestContext, type Route } from './server.js';
export { clusterRoutes } from './routes-cluster.js';
export { jobRoutes } from './routes-jobs.js';
export { runRoutes, parseWait } from './routes-runs.js';
export { applyRoutes } from './routes-apply.js';
export { backupRoutes } from './routes-backup.js';
export { tokenRoutes, tokenApiView } from './routes-tokens.js';
export { consoleRoutes, chooseEncoding, CONSOLE_CSP, type AssetReader } from './console.js';
export { scheduleRoutes, isoInZone } from './routes-schedule.js';
export { jobFilterOf, matchesJob, filteredJobs, SCAN_JOBS_MAX, type JobFilter } from './job-filter.js';
export { STATUS_BY_CODE } from './status-by-code.js';
export type * from './services.js';
