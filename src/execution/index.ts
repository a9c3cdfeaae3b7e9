// The execution folder's public surface.
export { ExecutionPlane, type ExecutionEnvelope, type ExecutionNode, type ExecutionOptions, type ExecutionStats } from './execution-plane.js';
