// What the API may use of the leader's scheduler: the API sits on the agent and never
// imports src/scheduler itself (architecture.md), so the agent passes these through.
export { SchedulerError } from '../scheduler/index.js';
export type { Scheduler as RunControl } from '../scheduler/index.js';
