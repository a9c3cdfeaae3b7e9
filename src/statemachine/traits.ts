// A job's traits: one small integer holding what apply and the indexes read on hot paths,
// so they need not decode the packed spec. Bit 0 enabled, bits 1-2 concurrency (index into
// CONCURRENCY_POLICIES), bits 3-12 history (1..1000), bits 13-16 retry.max (0..10), bit 17
// "has after".
import { assert, itemAt } from './assert.js';
import { CONCURRENCY_POLICIES, type Concurrency, type JobSpec } from './types.js';

const ENABLED = 1;
const CONCURRENCY_SHIFT = 1;
const HISTORY_SHIFT = 3;
const RETRY_SHIFT = 13;
const HAS_AFTER = 1 << 17;

/** The traits of everything but `enabled`. */
export function settingTraits(concurrency: Concurrency, history: number, retryMax: number, hasAfter: boolean): number {
  const c = CONCURRENCY_POLICIES.indexOf(concurrency);
  assert(c >= 0 && history >= 1 && history < 1024 && retryMax >= 0 && retryMax < 16, 'spec out of the traits range');
  return (c << CONCURRENCY_SHIFT) | (history << HISTORY_SHIFT) | (retryMax << RETRY_SHIFT) | (hasAfter ? HAS_AFTER : 0);
}

export function traitsOf(spec: JobSpec): number {
  return withEnabled(settingTraits(spec.concurrency, spec.history, spec.retry.max, spec.after.length > 0), spec.enabled);
}

/** The traits with `enabled` set as given. */
export function withEnabled(traits: number, enabled: boolean): number {
  return enabled ? traits | ENABLED : traits & ~ENABLED;
}

export const traitEnabled = (traits: number): boolean => (traits & ENABLED) !== 0;
export const traitConcurrency = (traits: number): Concurrency => itemAt(CONCURRENCY_POLICIES, (traits >>> CONCURRENCY_SHIFT) & 3);
export const traitHistory = (traits: number): number => (traits >>> HISTORY_SHIFT) & 1023;
export const traitRetryMax = (traits: number): number => (traits >>> RETRY_SHIFT) & 15;
export const traitHasAfter = (traits: number): boolean => (traits & HAS_AFTER) !== 0;
