// A memo of Authorization headers the registry accepted, so that a client sending the same
// token on every request (every real client) pays for parsing it and for its SHA-256 once,
// not per request. It remembers the hash and the record the hash matched; it decides
// nothing: authorize still looks the hash up in the registry on every request, so a revoke
// or an expiry takes effect on the very next request, exactly as without the memo.
import { assert } from './assert.js';
import type { TokenRecord } from './token-registry.js';

/** Headers remembered at most; the registry holds at most 1,000 tokens, so live clients fit. */
export const CREDENTIAL_MEMO_ENTRIES_DEFAULT = 1024;

export type RememberedCredential = {
  /** SHA-256 of the header's bearer secret, hex: the registry's lookup key. */
  readonly hash: string;
  /** The record `hash` was found with and compared against in constant time. */
  readonly record: TokenRecord;
};

/**
 * Only headers whose token the registry held are remembered (a caller who guesses tokens
 * fills nothing, and pays the full check every time); one that stops matching is forgotten.
 * Invariant: size <= entriesMax; the oldest entry goes first.
 */
export class CredentialMemo {
  private readonly entries = new Map<string, RememberedCredential>();

  constructor(readonly entriesMax: number = CREDENTIAL_MEMO_ENTRIES_DEFAULT) {
    assert(Number.isSafeInteger(entriesMax) && entriesMax >= 1, 'entriesMax must be a positive integer');
  }

  get size(): number {
    return this.entries.size;
  }

  recall(header: string): RememberedCredential | undefined {
    return this.entries.get(header);
  }

  remember(header: string, credential: RememberedCredential): void {
    if (!this.entries.has(header) && this.entries.size >= this.entriesMax) {
      const oldest = this.entries.keys().next();
      if (oldest.done !== true) this.entries.delete(oldest.value);
    }
    this.entries.set(header, credential);
    assert(this.entries.size <= this.entriesMax, 'credential memo over its bound');
  }

  forget(header: string): void {
    this.entries.delete(header);
  }
}
