// Bounds on concurrent requests, for the server: so many in flight per connection, so many per
// token, and 429 beyond. A counter per key, created on first use and deleted when it drops to
// zero, so memory follows what is in flight, and a cap on keys bounds it even then.
import { assert } from './assert.js';
import { refused, type Refused } from './codes.js';

export const DEFAULT_IN_FLIGHT_LIMITS = Object.freeze({ connection: 64, token: 256 });
/** Distinct keys tracked per limit before new ones are refused. */
export const IN_FLIGHT_KEYS_MAX_DEFAULT = 100_000;

export type InFlightRefused<N extends string> = Refused<'TOO_MANY_IN_FLIGHT'> & { readonly limit: N };

export class InFlightLimiter<N extends string> {
  private readonly counts = new Map<N, Map<string, number>>();
  /** The same counter maps in the order of the limits object, for tryAcquire's walk. */
  private readonly ordered: { readonly name: N; readonly counts: Map<string, number> }[] = [];

  constructor(private readonly limits: Readonly<Record<N, number>>, private readonly keysMax: number = IN_FLIGHT_KEYS_MAX_DEFAULT) {
    // for…in types each key as a key of the limits (N), with no assertion; skipping inherited
    // ones leaves exactly what Object.keys would list.
    for (const name in limits) {
      if (!Object.hasOwn(limits, name)) continue;
      assert(Number.isSafeInteger(limits[name]) && limits[name] >= 1, `in-flight limit ${name} must be a positive integer`);
      const counts = new Map<string, number>();
      this.counts.set(name, counts);
      this.ordered.push({ name, counts });
    }
  }

  /**
   * Takes one slot under each given key (for example `{connection: '17', token: tokenId}`),
   * all or none. `release` gives them back and is safe to call more than once (the server
   * calls it on finish and on close).
   */
  tryAcquire(keys: Readonly<Partial<Record<N, string>>>): { readonly ok: true; release(): void } | InFlightRefused<N> {
    const taken: [Map<string, number>, string][] = [];
    for (const { name, counts } of this.ordered) {
      const key = keys[name];
      if (key === undefined) continue;
      const current = counts.get(key) ?? 0;
      if (current >= this.limits[name]) {
        return { ...refused('TOO_MANY_IN_FLIGHT', `too many requests in flight for this ${name} (at most ${this.limits[name]}); retry when some finish`), limit: name };
      }
      if (current === 0 && counts.size >= this.keysMax) {
        return { ...refused('TOO_MANY_IN_FLIGHT', `too many distinct ${name}s have requests in flight (at most ${this.keysMax}); retry shortly`), limit: name };
      }
      taken.push([counts, key]);
    }
    for (const [counts, key] of taken) counts.set(key, (counts.get(key) ?? 0) + 1);
    let released = false;
    return {
      ok: true,
      release: () => {
        if (released) return;
        released = true;
        for (const [counts, key] of taken) {
          const n = (counts.get(key) ?? 0) - 1;
          assert(n >= 0, 'in-flight count below zero');
          if (n === 0) counts.delete(key);
          else counts.set(key, n);
        }
      },
    };
  }

  inFlight(name: N, key: string): number {
    return this.counts.get(name)?.get(key) ?? 0;
  }

  /** How many keys a limit tracks now (zero when nothing is in flight). */
  keyCount(name: N): number {
    return this.counts.get(name)?.size ?? 0;
  }
}
