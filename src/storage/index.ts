// The storage folder's public surface.
export { DurableStorage } from './durable_storage.js';
export type { DurableStorageOptions, PersistUpdate, WriteKind, WriteStats } from './durable_storage.js';
export { StorageError } from './errors.js';
export type { StorageErrorCode } from './errors.js';
export { WriteQueue } from './write_queue.js';
export { FORMAT_VERSION } from './recover.js';
