import type { Timers } from './types.js';

/** Node's timers behind the executor's Timers seam. */
export const realTimers: Timers = {
  schedule(delayMs, fn) {
    const handle = setTimeout(fn, Math.max(0, delayMs));
    return { cancel: () => clearTimeout(handle) };
  },
};
