// The node folder's public surface: one node's runtime and the ports it is driven through.
export { NodeRuntime, DEFAULT_LIMITS, DEFAULT_TIMING, type ClusterView, type MemberView, type NodeLimits, type NodeOptions, type NodeTiming } from './node-runtime.js';
export type { Clock, Done, LeadershipListener, LogStore, NodeEnvelope, NodeEvents, PeerHello, PeerLink, PersistBatch, StateMachine, TimerHandle, TraceStage } from './ports.js';
export type { RaftTuning } from './ready-loop.js';
export { MemberDirectory, encodeMemberContext, decodeMemberContext, roleOfContext, type MemberAddress, type MemberRole } from './member-directory.js';
export { bootstrapFromImage, bootstrapLog, isEmptyStore } from './bootstrap.js';
export { parsePeerHello } from './hello.js';
