// The follower's and the leader's ends of the channel that carries client writes to the
// leader over the authenticated peer connection: many requests in flight at once, matched to
// their answers by id, batched into one frame per turn of the event loop, bounded in number
// and in time.
import { ChimeError } from '../errors/index.js';
import { FORWARD_BATCH_BYTES_MAX, FORWARD_BATCH_ITEMS_MAX, forwardItemBytes, type ForwardAnswer, type ForwardFrame, type ForwardRequest } from './forward-wire.js';

/** How the channel reaches a peer: the wiring sends the frame on the peer transport. */
export interface ForwardLink {
  /** False when the frame was not queued (no connection possible, a full queue): it never left. */
  send(to: string, frame: ForwardFrame): boolean;
}

export interface ForwardLimits {
  /** Requests this node has forwarded and awaits answers for; beyond, FORWARDS_FULL (429). */
  readonly inFlightMax: number;
  /**
   * How long the sender waits for an answer before telling its client the outcome is unknown,
   * beyond the time the request itself asks the leader to wait (`?wait=` of a manual run).
   */
  readonly deadlineMs: number;
  /** Forwarded requests one peer may have running on this node at once; beyond, 429 at once. */
  readonly servedPerPeerMax: number;
}

/** How soon answers the link refused are offered again (as "not run" or "lost" markers). */
const REFUSED_ANSWERS_RETRY_MS = 100;

export const DEFAULT_FORWARD_LIMITS: ForwardLimits = Object.freeze({
  inFlightMax: 4096,
  // Above the node's proposal timeout (10 s), after which the leader answers by itself.
  deadlineMs: 15_000,
  servedPerPeerMax: 4096,
});

/** What became of one forwarded request. */
export type ForwardOutcome =
  | { readonly kind: 'answered'; readonly status: number; readonly headers: Readonly<Record<string, string>>; readonly body: Uint8Array }
  /** The request did not run: the sender may take it to another node without doubt. */
  | { readonly kind: 'notRun' }
  /**
   * A request with a write id may have run and its answer will not come (the connection
   * broke after it left, or the leader lost leadership before it applied): the sender
   * re-sends it as a retry, which takes effect only if the first did not.
   */
  | { readonly kind: 'lost' };

export interface ForwardStats {
  inFlight: number;
  sent: number;
  answered: number;
  notRun: number;
  refusedFull: number;
  /** Requests with a write id whose answer was lost: their senders re-send them. */
  lost: number;
  outcomeUnknown: number;
  timedOut: number;
  /** Answers for requests no longer waited for (timed out, or the peer lost meanwhile). */
  lateAnswers: number;
  /** Answers the link refused (a full queue, no connection): sent again as "lost" markers. */
  answersRefused: number;
  /** Refused answers given up on (too many, or older than the deadline): their senders time out. */
  answersDropped: number;
  /** Forwarded requests whose clients hung up before the answer. */
  cancelled: number;
  frames: number;
  served: number;
  servedRefused: number;
}

interface Pending {
  readonly peer: string;
  readonly request: ForwardRequest;
  /** Handed to the link: from then on only the peer knows whether it ran. */
  sent: boolean;
  readonly timer: ReturnType<typeof setTimeout>;
  readonly settle: (outcome: ForwardOutcome | ChimeError) => void;
}

/** Runs one forwarded request; `gone` aborts when the sender's client hung up. */
export type ForwardedHandler = (from: string, request: ForwardRequest, gone: AbortSignal) => Promise<ForwardAnswer>;

/**
 * Both ends of the forward channel on one node. As a sender it keeps the requests it
 * forwarded by id; as a receiver it runs requests through the server (`handler`) and sends
 * the answers back. Outgoing items of one turn leave in one frame per peer (up to the batch
 * limits): a burst of client writes costs one frame, a lone write leaves at the end of its
 * turn with no timer in between.
 */
export class ForwardChannel {
  readonly stats: ForwardStats = { inFlight: 0, sent: 0, answered: 0, notRun: 0, refusedFull: 0, lost: 0, outcomeUnknown: 0, timedOut: 0, lateAnswers: 0, answersRefused: 0, answersDropped: 0, cancelled: 0, frames: 0, served: 0, servedRefused: 0 };
  private readonly pending = new Map<number, Pending>();
  private readonly outRequests = new Map<string, Pending[]>();
  private readonly outAnswers = new Map<string, ForwardAnswer[]>();
  private readonly outCancels = new Map<string, number[]>();
  /**
   * Per peer, markers for the answers the link refused, and when the first of them was
   * refused. An answer's body is not kept (it may be large): a "not run" answer stays one (its
   * sender may try elsewhere, nothing happened); any other becomes "lost", and its sender
   * re-sends it as a retry (or tells its client the outcome is unknown).
   */
  private readonly refusedAnswers = new Map<string, { readonly sinceMs: number; readonly markers: ForwardAnswer[] }>();
  private refusedRetry: ReturnType<typeof setTimeout> | null = null;
  private readonly servedBy = new Map<string, number>();
  /** Requests running here for a peer, by `peer id`: what a cancel aborts. */
  private readonly running = new Map<string, AbortController>();
  private nextId = 1;
  private flushScheduled = false;
  private answersFlushScheduled = false;
  private closed = false;

  constructor(
    private readonly link: ForwardLink,
    private readonly handler: ForwardedHandler,
    private readonly limits: ForwardLimits = DEFAULT_FORWARD_LIMITS,
  ) {}

  /**
   * Sends one request to `peer` and resolves with its answer or `notRun`. Rejects with
   * FORWARDS_FULL when too many are in flight, TIMEOUT at the deadline and OUTCOME_UNKNOWN
   * when the peer connection broke after the request left — the two cases where it may or
   * may not have run.
   */
  forward(peer: string, request: Omit<ForwardRequest, 'id'>, extraMs = 0, gone?: AbortSignal): Promise<ForwardOutcome> {
    if (this.closed) return Promise.reject(new ChimeError('SHUTTING_DOWN', 'the node is shutting down'));
    if (this.pending.size >= this.limits.inFlightMax) {
      this.stats.refusedFull += 1;
      return Promise.reject(new ChimeError('FORWARDS_FULL', `${this.limits.inFlightMax} writes are already on their way to the leader from this node; retry shortly`));
    }
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        if (this.pending.get(id) !== entry) return;
        this.pending.delete(id);
        this.stats.inFlight = this.pending.size;
        this.stats.timedOut += 1;
        entry.settle(new ChimeError('TIMEOUT', `the leader did not answer within ${this.limits.deadlineMs + extraMs} ms; the write may or may not have taken effect`));
      }, this.limits.deadlineMs + extraMs);
      const entry: Pending = {
        peer,
        request: { ...request, id },
        sent: false,
        timer,
        settle: (outcome) => {
          clearTimeout(timer);
          if (outcome instanceof ChimeError) reject(outcome);
          else resolve(outcome);
        },
      };
      this.pending.set(id, entry);
      this.stats.inFlight = this.pending.size;
      queue(this.outRequests, peer, entry);
      this.scheduleFlush();
      gone?.addEventListener('abort', () => this.cancel(id), { once: true });
    });
  }

  /** The client of request `id` hung up: the peer is told, so a long-poll there ends; nobody waits for the answer. */
  private cancel(id: number): void {
    const entry = this.pending.get(id);
    if (entry === undefined) return;
    this.pending.delete(id);
    this.stats.inFlight = this.pending.size;
    this.stats.cancelled += 1;
    entry.settle(new ChimeError('CLIENT_GONE', 'the client hung up'));
    if (!entry.sent) return;
    queue(this.outCancels, entry.peer, id);
    this.scheduleFlush();
  }

  /** A frame from `from` on the forward channel (already checked by parseForwardFrame). */
  receive(from: string, frame: ForwardFrame): void {
    switch (frame.kind) {
      case 'answers':
        for (const answer of frame.items) this.answered(from, answer);
        return;
      case 'cancels':
        for (const id of frame.items) this.running.get(`${from} ${id}`)?.abort();
        return;
      case 'requests':
        for (const request of frame.items) this.serve(from, request);
        return;
      default: {
        const never: never = frame;
        return never;
      }
    }
  }

  /**
   * The connection to `peer` broke. Requests still waiting here to be sent did not run; those
   * that left may have: their clients are told the outcome is unknown (retryable), since
   * the answer can no longer come.
   */
  peerLost(peer: string): void {
    for (const [id, entry] of this.pending) {
      if (entry.peer !== peer) continue;
      this.pending.delete(id);
      if (entry.sent) {
        this.settleLost(entry, `the connection to the leader (${peer}) broke before it answered`);
      } else {
        this.stats.notRun += 1;
        entry.settle({ kind: 'notRun' });
      }
    }
    this.outRequests.delete(peer);
    this.outCancels.delete(peer);
    this.stats.inFlight = this.pending.size;
    // Its clients cannot be answered any more: what runs here for it may stop waiting.
    for (const [key, controller] of this.running) if (key.startsWith(`${peer} `)) controller.abort();
  }

  /**
   * The connection `peer` had opened to this node closed: the answers it had queued on it are
   * gone. Requests sent to it are settled as after a lost peer (lost or unknown outcome);
   * those not yet sent leave on this node's own connection, which is unaffected.
   */
  answersLost(peer: string): void {
    for (const [id, entry] of this.pending) {
      if (entry.peer !== peer || !entry.sent) continue;
      this.pending.delete(id);
      this.settleLost(entry, `the connection from the leader (${peer}) broke before its answer came`);
    }
    this.stats.inFlight = this.pending.size;
  }

  close(): void {
    this.closed = true;
    if (this.refusedRetry !== null) clearTimeout(this.refusedRetry);
    this.refusedAnswers.clear();
    for (const entry of this.pending.values()) entry.settle(new ChimeError('SHUTTING_DOWN', 'the node is shutting down; the write may or may not have taken effect'));
    this.pending.clear();
    this.outRequests.clear();
    this.outAnswers.clear();
    this.outCancels.clear();
    for (const controller of this.running.values()) controller.abort();
    this.stats.inFlight = 0;
  }

  /** A request that left and whose answer cannot come: re-sent when it has a write id. */
  private settleLost(entry: Pending, why: string): void {
    if (entry.request.writeId !== null) {
      this.stats.lost += 1;
      entry.settle({ kind: 'lost' });
    } else {
      this.stats.outcomeUnknown += 1;
      entry.settle(new ChimeError('OUTCOME_UNKNOWN', `${why}; the write may or may not have taken effect — retry`));
    }
  }

  private answered(from: string, answer: ForwardAnswer): void {
    const entry = this.pending.get(answer.id);
    // An answer from anyone but the peer the request went to is not its answer.
    if (entry === undefined || entry.peer !== from) {
      this.stats.lateAnswers += 1;
      return;
    }
    this.pending.delete(answer.id);
    this.stats.inFlight = this.pending.size;
    if ('lost' in answer) {
      // Proposed and then deposed (only writes with a write id), or an answer its link refused.
      this.settleLost(entry, `the leader's (${from}) answer was lost`);
      return;
    }
    if (answer.notRun) {
      this.stats.notRun += 1;
      entry.settle({ kind: 'notRun' });
      return;
    }
    this.stats.answered += 1;
    entry.settle({ kind: 'answered', status: answer.status, headers: answer.headers, body: answer.body });
  }

  private serve(from: string, request: ForwardRequest): void {
    const running = this.servedBy.get(from) ?? 0;
    if (running >= this.limits.servedPerPeerMax) {
      this.stats.servedRefused += 1;
      const detail = JSON.stringify({ type: 'https://chime.dev/problems/forwards-full', title: 'Too Many Requests', status: 429, detail: `${this.limits.servedPerPeerMax} forwarded writes from ${from} are running on the leader; retry shortly`, code: 'FORWARDS_FULL' });
      this.reply(from, { id: request.id, notRun: false, status: 429, headers: { 'content-type': 'application/problem+json', 'retry-after': '1' }, body: Buffer.from(detail) });
      return;
    }
    this.servedBy.set(from, running + 1);
    this.stats.served += 1;
    const key = `${from} ${request.id}`;
    const controller = new AbortController();
    this.running.set(key, controller);
    const done = (answer: ForwardAnswer): void => {
      this.running.delete(key);
      const left = (this.servedBy.get(from) ?? 1) - 1;
      if (left === 0) this.servedBy.delete(from);
      else this.servedBy.set(from, left);
      this.reply(from, answer);
    };
    this.handler(from, request, controller.signal).then(done, (error: unknown) => {
      // The handler answers every error as problem+json itself; this is a bug, and the
      // sender must not wait for its deadline.
      const detail = JSON.stringify({ type: 'https://chime.dev/problems/internal', title: 'Internal Server Error', status: 500, detail: String(error), code: 'INTERNAL' });
      done({ id: request.id, notRun: false, status: 500, headers: { 'content-type': 'application/problem+json' }, body: Buffer.from(detail) });
    });
  }

  private reply(to: string, answer: ForwardAnswer): void {
    if (this.closed) return;
    queue(this.outAnswers, to, answer);
    if (this.answersFlushScheduled) return;
    this.answersFlushScheduled = true;
    // After the promise reactions now running, not at the check phase: the answers of one
    // applied batch resolve in a cascade of reactions (a tick scheduled inside it runs once
    // it is over, so they still leave in one frame), and the leader applies in its own check
    // phase, where a setImmediate would hold them behind the next turn's I/O.
    process.nextTick(() => {
      this.answersFlushScheduled = false;
      this.flushAnswers();
    });
  }

  private scheduleFlush(): void {
    if (this.flushScheduled) return;
    this.flushScheduled = true;
    // The check phase of this very turn: everything queued by the I/O callbacks of this turn
    // (many clients' requests) goes out together.
    setImmediate(() => {
      this.flushScheduled = false;
      this.flush();
    });
  }

  private flush(): void {
    if (this.closed) return;
    for (const [peer, ids] of this.outCancels) {
      this.outCancels.delete(peer);
      for (let i = 0; i < ids.length; i += FORWARD_BATCH_ITEMS_MAX) {
        this.link.send(peer, { kind: 'cancels', items: ids.slice(i, i + FORWARD_BATCH_ITEMS_MAX) });
        this.stats.frames += 1;
      }
    }
    for (const [peer, queued] of this.outRequests) {
      this.outRequests.delete(peer);
      // One whose deadline passed before it left stays here: its client was told already.
      const entries = queued.filter((e) => this.pending.get(e.request.id) === e);
      for (const batch of batches(entries, (e) => forwardItemBytes(e.request))) {
        const ok = this.link.send(peer, { kind: 'requests', items: batch.map((e) => e.request) });
        this.stats.frames += 1;
        for (const entry of batch) {
          if (ok) {
            entry.sent = true;
            this.stats.sent += 1;
            continue;
          }
          this.pending.delete(entry.request.id);
          this.stats.notRun += 1;
          entry.settle({ kind: 'notRun' });
        }
      }
    }
    this.stats.inFlight = this.pending.size;
  }

  private flushAnswers(): void {
    if (this.closed) return;
    for (const [peer, answers] of this.outAnswers) {
      this.outAnswers.delete(peer);
      const refused = this.sendAnswers(peer, answers);
      if (refused.length > 0) this.refuseAnswers(peer, refused);
    }
  }

  /** Sends answers to `peer` in frames within the limits; markers for those the link refused. */
  private sendAnswers(peer: string, answers: readonly ForwardAnswer[]): ForwardAnswer[] {
    const refused: ForwardAnswer[] = [];
    for (const batch of batches(answers, forwardItemBytes)) {
      this.stats.frames += 1;
      if (!this.link.send(peer, { kind: 'answers', items: batch })) for (const answer of batch) refused.push(markerOf(answer));
    }
    return refused;
  }

  /**
   * The link did not take these answers. Without a word the sender would wait its whole
   * deadline, so markers of a few bytes each ("not run" or "lost") are offered again until the
   * link takes them, within the per-peer limit and the deadline.
   */
  private refuseAnswers(peer: string, markers: readonly ForwardAnswer[]): void {
    this.stats.answersRefused += markers.length;
    let refused = this.refusedAnswers.get(peer);
    if (refused === undefined) this.refusedAnswers.set(peer, (refused = { sinceMs: performance.now(), markers: [] }));
    for (const marker of markers) {
      if (refused.markers.length >= this.limits.servedPerPeerMax) this.stats.answersDropped += 1;
      else refused.markers.push(marker);
    }
    this.scheduleRefusedRetry();
  }

  private scheduleRefusedRetry(): void {
    this.refusedRetry ??= setTimeout(() => {
      this.refusedRetry = null;
      this.resendRefused();
    }, REFUSED_ANSWERS_RETRY_MS);
  }

  private resendRefused(): void {
    if (this.closed) return;
    const now = performance.now();
    // Taken out first: those refused again are put back, and must wait for the next round.
    const rounds = [...this.refusedAnswers];
    this.refusedAnswers.clear();
    for (const [peer, refused] of rounds) {
      if (now - refused.sinceMs > this.limits.deadlineMs) {
        this.stats.answersDropped += refused.markers.length;
        continue;
      }
      const again = this.sendAnswers(peer, refused.markers);
      // Still refused: they wait on, counted once, from when they were first refused.
      if (again.length > 0) this.refusedAnswers.set(peer, { sinceMs: refused.sinceMs, markers: again });
    }
    if (this.refusedAnswers.size > 0) this.scheduleRefusedRetry();
  }
}

/** What is kept of a refused answer to offer again: a few bytes, saying whether it ran. */
function markerOf(answer: ForwardAnswer): ForwardAnswer {
  if ('lost' in answer) return answer;
  return answer.notRun ? answer : { id: answer.id, lost: true };
}

function queue<T>(queues: Map<string, T[]>, peer: string, item: T): void {
  const list = queues.get(peer);
  if (list === undefined) queues.set(peer, [item]);
  else list.push(item);
}

/** Splits `items` into runs within the frame limits (an item larger than the byte limit goes alone). */
function* batches<T>(items: readonly T[], bytesOf: (item: T) => number): Generator<T[]> {
  let batch: T[] = [];
  let bytes = 0;
  for (const item of items) {
    const size = bytesOf(item);
    if (batch.length > 0 && (batch.length >= FORWARD_BATCH_ITEMS_MAX || bytes + size > FORWARD_BATCH_BYTES_MAX)) {
      yield batch;
      batch = [];
      bytes = 0;
    }
    batch.push(item);
    bytes += size;
  }
  if (batch.length > 0) yield batch;
}
