import type { NodeId, Snapshot, SnapshotMessage } from './types.js';

export type ChunkOutcome =
  | { readonly kind: 'partial'; readonly receivedBytes: number; readonly reject: boolean }
  | { readonly kind: 'complete'; readonly snapshot: Snapshot };

/**
 * A follower's buffer for one InstallSnapshot transfer. Chunks must arrive in order; a gap
 * is answered with how much we hold so the leader resends from there, and a duplicate is
 * acknowledged without being stored twice. Volatile: a crash restarts the transfer.
 *
 * A transfer is one leader's, in one term: the image bytes are opaque and two nodes may
 * encode the same (index, term) differently, so a resume from another leader (even with
 * the same index, term and size) would splice two images into one corrupt one.
 */
export class IncomingSnapshot {
  private source: { readonly from: NodeId; readonly term: number; readonly key: string } | null = null;
  private totalBytes = 0;
  private parts: Uint8Array[] = [];
  private receivedBytes = 0;

  constructor(private readonly maxBytes: number) {}

  /** Whether a transfer is under way (its buffer is held until it completes or is given up). */
  get active(): boolean {
    return this.source !== null;
  }

  clear(): void {
    this.source = null;
    this.parts = [];
    this.receivedBytes = 0;
    this.totalBytes = 0;
  }

  accept(m: SnapshotMessage): ChunkOutcome {
    const reject = (receivedBytes: number): ChunkOutcome => ({ kind: 'partial', receivedBytes, reject: true });
    if (m.totalBytes > this.maxBytes || m.totalBytes < 0) return reject(0);
    if (!this.isCurrent(m)) {
      // The first chunk of any other transfer starts over: the leader of the current term
      // decides what we install (the caller already dropped chunks from older terms), and a
      // buffer kept for a snapshot no leader will finish would block every later transfer.
      if (m.offset !== 0) return reject(0);
      this.clear();
      this.source = { from: m.from, term: m.term, key: transferKey(m) };
      this.totalBytes = m.totalBytes;
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

  private isCurrent(m: SnapshotMessage): boolean {
    const source = this.source;
    return source !== null && source.from === m.from && source.term === m.term && source.key === transferKey(m);
  }
}

/** What one image is: its place in the log, its membership and its size. */
function transferKey(m: SnapshotMessage): string {
  const { index, term, conf } = m.meta;
  return JSON.stringify([index, term, conf.voters, conf.learners, m.totalBytes]);
}
