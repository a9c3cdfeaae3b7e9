export { Executor, type ExecutorStats } from './executor.js';
export { LIMITS_DEFAULT, OUTPUT_BYTES_MAX_DEFAULT, KILL_GRACE_MS_DEFAULT } from './limits.js';
export { validateExecuteRequest, type Validation } from './validate.js';
export { realTimers } from './timers.js';
export { truncationMarker } from './tail-buffer.js';
export type * from './types.js';
