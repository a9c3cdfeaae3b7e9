// The process folder's public surface: one agent process, wired.
export { startAgent, StartRefused, type AgentSecrets, type RunningAgent } from './agent-process.js';
export type { AgentConfig } from './config.js';
export { isPackaged, readBundledAsset } from './bundled-assets.js';
export { decodeBackup, encodeBackup, type Backup } from './backup.js';
export { ProcessMetrics } from './metrics.js';
