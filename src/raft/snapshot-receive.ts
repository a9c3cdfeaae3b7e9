import type { Snapshot, SnapshotMessage, SnapshotMeta } from './types.js';

export type ChunkOutcome =
  | { readonly kind: 'partial'; readonly receivedBytes: number; readonly reject: boolean }
  | { readonly kind: 'complete'; readonly snapshot: Snapshot };

/**
 * A follower's buffer for one InstallSnapshot transfer. Chunks must arrive in order; a gap
 * is answered with how much we hold so the leader resends from there, and a duplicate is
 * acknowledged without being stored twice. Volatile: a crash restarts the transfer.
 */
export class IncomingSnapshot {
  private meta: SnapshotMeta | null = null;
  private totalBytes = 0;
  private parts: Uint8Array[] = [];
  private receivedBytes = 0;

  constructor(private readonly maxBytes: number) {}

  clear(): void {
    this.meta = null;
    this.parts = [];
    this.receivedBytes = 0;
    this.totalBytes = 0;
  }

  accept(m: SnapshotMessage): ChunkOutcome {
    const reject = (receivedBytes: number): ChunkOutcome => ({ kind: 'partial', receivedBytes, reject: true });
    if (m.totalBytes > this.maxBytes || m.totalBytes < 0) return reject(0);
    if (!this.isCurrent(m.meta)) {
      // The first chunk of any other snapshot starts over: the leader of the current term
      // decides what we install (the caller already dropped chunks from older terms), and a
      // buffer kept for a snapshot no leader will finish would block every later transfer.
      if (m.offset !== 0) return reject(0);
      this.clear();
      this.meta = m.meta;
      this.totalBytes = m.totalBytes;
    }
    if (m.totalBytes !== this.totalBytes) {
      this.clear();
      return reject(0);
    }
    if (m.offset !== this.receivedBytes) {
      return { kind: 'partial', receivedBytes: this.receivedBytes, reject: m.offset > this.receivedBytes };
    }
    if (m.offset + m.data.length > this.totalBytes || (m.done && m.offset + m.data.length !== this.totalBytes)) {
      this.clear();
      return reject(0);
    }
    this.parts.push(m.data.slice());
    this.receivedBytes += m.data.length;
    if (this.receivedBytes < this.totalBytes || !m.done) return { kind: 'partial', receivedBytes: this.receivedBytes, reject: false };
    const data = new Uint8Array(this.totalBytes);
    let at = 0;
    for (const part of this.parts) {
      data.set(part, at);
      at += part.length;
    }
    const snapshot: Snapshot = { meta: m.meta, data };
    this.clear();
    return { kind: 'complete', snapshot };
  }

  private isCurrent(meta: SnapshotMeta): boolean {
    return this.meta !== null && this.meta.index === meta.index && this.meta.term === meta.term;
  }
}
