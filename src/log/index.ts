// The log folder's public surface.
export { jsonLogger, silentLogger, type Logger, type LogLevel } from './logger.js';
