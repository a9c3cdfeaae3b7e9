// Live updates by polling: each page asks again every few seconds, backs off while the node
// fails to answer (an election, a restart), and asks at once when the tab becomes visible.
// Polling through the node that served the page keeps working across a leader change, since
// every node answers reads and forwards writes.

import { ApiError } from './api.js';
import { backoffMs, POLL_MS } from './timing.js';

export interface Poller {
  /** Polls now (after a write, say), then on the usual rhythm. */
  now(): void;
  stop(): void;
}

/**
 * Calls `tick` now and then again `intervalMs` after each success, or after a growing wait
 * after each failure (`onError` is told). Never two ticks at once; stops for good on stop().
 */
export function poll(tick: (signal: AbortSignal) => Promise<void>, onError: (error: unknown) => void, intervalMs: number = POLL_MS): Poller {
  let failures = 0;
  let timer: ReturnType<typeof setTimeout> | null = null;
  let running = false;
  let again = false;
  const control = new AbortController();
  const schedule = (ms: number) => {
    if (control.signal.aborted) return;
    if (timer !== null) clearTimeout(timer);
    timer = setTimeout(run, ms);
  };
  const run = async () => {
    timer = null;
    if (control.signal.aborted) return;
    if (running) {
      again = true;
      return;
    }
    running = true;
    try {
      await tick(control.signal);
      failures = 0;
    } catch (error) {
      if (control.signal.aborted) return;
      failures++;
      onError(error);
      // An endpoint this node does not serve will not appear by asking again; a reload after an upgrade finds it.
      if (error instanceof ApiError && error.unavailable) control.abort();
    } finally {
      running = false;
    }
    if (again) {
      again = false;
      schedule(0);
    } else schedule(failures === 0 ? intervalMs : backoffMs(failures - 1, intervalMs));
  };
  const onVisible = () => {
    if (document.visibilityState === 'visible') schedule(0);
  };
  document.addEventListener('visibilitychange', onVisible);
  schedule(0);
  return {
    now: () => schedule(0),
    stop: () => {
      control.abort();
      if (timer !== null) clearTimeout(timer);
      document.removeEventListener('visibilitychange', onVisible);
    },
  };
}
