// The forward channel between two nodes over an in-memory link that passes each frame
// through the transport's msgpack settings: answers reach the request that asked, in any
// order; a turn's requests share a frame; the in-flight limit refuses at once; a deadline
// and a lost peer end a request: "lost" (re-sent by the server) when it had left with a
// write id, "outcome unknown" when it had left without one, "not run" when it had not left.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Packr } from 'msgpackr';
import { isChimeError } from '../errors/index.js';
import { waitFor } from '../../test/support/wait-for.js';
import { DEFAULT_FORWARD_LIMITS, ForwardChannel, type ForwardLimits, type ForwardedHandler } from './forward-channel.js';
import { FORWARD_BATCH_ITEMS_MAX, parseForwardFrame, type ForwardAnswer, type ForwardFrame, type ForwardRequest } from './forward-wire.js';

// As src/rpc/codec.ts: plain maps, binary as binary.
const packr = new Packr({ useRecords: false, mapsAsObjects: true });

interface Pair {
  readonly follower: ForwardChannel;
  readonly leader: ForwardChannel;
  /** Frames each side sent, as they crossed the link. */
  readonly frames: { from: string; frame: ForwardFrame }[];
  /** When false, the link refuses every frame (as a transport with a full queue does). */
  linkUp: boolean;
  /** Nodes whose frames the link refuses (one side's queue is full). */
  readonly refuseFrom: Set<string>;
  /** When false, frames are taken by the link but never delivered (a connection that broke). */
  deliver: boolean;
}

function pair(handler: ForwardedHandler, limits: Partial<ForwardLimits> = {}): Pair {
  const frames: Pair['frames'] = [];
  const all = { ...DEFAULT_FORWARD_LIMITS, ...limits };
  const peers = new Map<string, ForwardChannel>();
  const cross = (from: string, to: string, frame: ForwardFrame): boolean => {
    if (!state.linkUp || state.refuseFrom.has(from)) return false;
    frames.push({ from, frame });
    const bytes = packr.pack(frame);
    setImmediate(() => {
      if (!state.deliver) return;
      const parsed = parseForwardFrame(packr.unpack(bytes));
      assert.ok(parsed !== null, 'a frame the channel sent parses on the other side');
      peers.get(to)?.receive(from, parsed);
    });
    return true;
  };
  const follower = new ForwardChannel({ send: (to, frame) => cross('n2', to, frame) }, () => Promise.reject(new Error('the follower serves nothing')), all);
  const leader = new ForwardChannel({ send: (to, frame) => cross('n1', to, frame) }, handler, all);
  peers.set('n1', leader).set('n2', follower);
  const state: Pair = { follower, leader, frames, linkUp: true, refuseFrom: new Set(), deliver: true };
  return state;
}

const put = (n: number, writeId: string | null = null): Omit<ForwardRequest, 'id'> => ({ method: 'PUT', path: `/v1/jobs/j${n}`, headers: { 'content-type': 'application/json', authorization: `Bearer t${n}` }, body: Buffer.from(JSON.stringify({ n })), writeId, retrySince: null });

/** Answers each request with its own path and body after `delayMs(n)`. */
function echo(delayMs: (request: ForwardRequest) => number = () => 0): ForwardedHandler {
  return (_from, request) => new Promise<ForwardAnswer>((resolve) => {
    setTimeout(() => resolve({ id: request.id, notRun: false, status: 201, headers: { 'content-type': 'application/json', 'retry-after': request.headers['authorization'] ?? '' }, body: Buffer.from(JSON.stringify({ path: request.path, body: Buffer.from(request.body).toString() })) }), delayMs(request));
  });
}

test('answers reach the request that asked, even out of order; a turn\'s requests share one frame', async () => {
  // Later requests answer first: the id, not the order, routes an answer.
  const p = pair(echo((r) => 30 - Number(r.path.slice('/v1/jobs/j'.length))));
  const outcomes = await Promise.all(Array.from({ length: 20 }, (_, n) => p.follower.forward('n1', put(n))));
  outcomes.forEach((outcome, n) => {
    assert.equal(outcome.kind, 'answered');
    if (outcome.kind !== 'answered') return;
    assert.equal(outcome.status, 201);
    assert.deepEqual(JSON.parse(Buffer.from(outcome.body).toString()), { path: `/v1/jobs/j${n}`, body: JSON.stringify({ n }) });
    // The headers travel with each request (the caller's identity is per request).
    assert.equal(outcome.headers['retry-after'], `Bearer t${n}`);
  });
  const requestFrames = p.frames.filter((f) => f.frame.kind === 'requests');
  assert.equal(requestFrames.length, 1, 'twenty requests of one turn leave in one frame');
  assert.equal(requestFrames[0]?.frame.items.length, 20);
  assert.equal(p.follower.stats.answered, 20);
  assert.equal(p.follower.stats.inFlight, 0);
  assert.equal(p.leader.stats.served, 20);
});

test('the answers of one applied batch leave in one frame, in the turn of the apply', async () => {
  // The leader's Ready loop applies a batch in one check-phase callback; each write's answer
  // then resolves through a promise chain of its own depth.
  const settles: (() => void)[] = [];
  const handler: ForwardedHandler = async (_from, request) => {
    await new Promise<void>((resolve) => settles.push(resolve));
    for (let i = 0; i < Number(request.path.slice('/v1/jobs/j'.length)) % 4; i++) await null;
    return { id: request.id, notRun: false, status: 201, headers: {}, body: Buffer.from('{}') };
  };
  const p = pair(handler);
  const asked = Promise.all(Array.from({ length: 6 }, (_, n) => p.follower.forward('n1', put(n))));
  await waitFor('the leader holds all six', () => settles.length === 6);
  const answerFrames = () => p.frames.filter((f) => f.from === 'n1' && f.frame.kind === 'answers');
  const beforeNextTurn = await new Promise<number>((done) => setImmediate(() => {
    for (const settle of settles) settle();
    setImmediate(() => done(answerFrames().length));
  }));
  assert.equal(beforeNextTurn, 1, 'the answers left before the next turn\'s check phase');
  assert.deepEqual(answerFrames().map((f) => f.frame.items.length), [6], 'in one frame');
  assert.ok((await asked).every((o) => o.kind === 'answered'));
});

test('a batch larger than the frame limit is split; every request is still answered', async () => {
  const p = pair(echo());
  const count = FORWARD_BATCH_ITEMS_MAX + 10;
  const outcomes = await Promise.all(Array.from({ length: count }, (_, n) => p.follower.forward('n1', put(n))));
  assert.ok(outcomes.every((o) => o.kind === 'answered'));
  assert.deepEqual(p.frames.filter((f) => f.frame.kind === 'requests').map((f) => f.frame.items.length), [FORWARD_BATCH_ITEMS_MAX, 10]);
});

test('beyond the in-flight limit a request is refused at once with FORWARDS_FULL, and accepted again once one answered', async () => {
  let release: () => void = () => undefined;
  const gate = new Promise<void>((resolve) => (release = resolve));
  const p = pair(async (_from, request) => {
    await gate;
    return { id: request.id, notRun: false, status: 200, headers: {}, body: new Uint8Array(0) };
  }, { inFlightMax: 2 });
  const first = [p.follower.forward('n1', put(1)), p.follower.forward('n1', put(2))];
  await assert.rejects(p.follower.forward('n1', put(3)), (e: unknown) => isChimeError(e, 'FORWARDS_FULL'));
  assert.equal(p.follower.stats.refusedFull, 1);
  release();
  await Promise.all(first);
  assert.equal((await p.follower.forward('n1', put(4))).kind, 'answered');
});

test('the leader refuses forwarded requests beyond its per-peer limit with a 429 answer', async () => {
  let release: () => void = () => undefined;
  const gate = new Promise<void>((resolve) => (release = resolve));
  const p = pair(async (_from, request) => {
    await gate;
    return { id: request.id, notRun: false, status: 200, headers: {}, body: new Uint8Array(0) };
  }, { servedPerPeerMax: 1 });
  const a = p.follower.forward('n1', put(1));
  const b = await p.follower.forward('n1', put(2));
  assert.equal(b.kind === 'answered' && b.status, 429);
  assert.equal(b.kind === 'answered' && b.headers['retry-after'], '1');
  assert.equal(JSON.parse(Buffer.from(b.kind === 'answered' ? b.body : new Uint8Array(0)).toString()).code, 'FORWARDS_FULL');
  release();
  assert.equal((await a).kind, 'answered');
});

test('no answer by the deadline: TIMEOUT (outcome unknown); an answer that comes later is dropped', async () => {
  let release: () => void = () => undefined;
  const gate = new Promise<void>((resolve) => (release = resolve));
  const p = pair(async (_from, request) => {
    await gate;
    return { id: request.id, notRun: false, status: 200, headers: {}, body: new Uint8Array(0) };
  }, { deadlineMs: 50 });
  const started = performance.now();
  await assert.rejects(p.follower.forward('n1', put(1)), (e: unknown) => isChimeError(e, 'TIMEOUT'));
  assert.ok(performance.now() - started >= 45);
  // A request that asks the leader to wait (a manual run's ?wait=) gets that much longer.
  const waiting = performance.now();
  await assert.rejects(p.follower.forward('n1', put(2), 100), (e: unknown) => isChimeError(e, 'TIMEOUT'));
  assert.ok(performance.now() - waiting >= 145);
  release();
  // The late answers cross back and find no one waiting.
  await waitFor('the late answers', () => p.follower.stats.lateAnswers === 2, 2000);
  assert.equal(p.follower.stats.inFlight, 0);
});

test('a lost peer: requests that left are lost (with a write id: re-sent) or of unknown outcome; those not yet sent did not run', async () => {
  const p = pair(() => new Promise<ForwardAnswer>(() => undefined));
  p.deliver = false;
  const left = p.follower.forward('n1', put(1));
  const named = p.follower.forward('n1', put(4, 'f00d.1'));
  // Let the first ones leave in their own turn.
  await new Promise((r) => setImmediate(r));
  const waiting = p.follower.forward('n1', put(2, 'f00d.2'));
  p.follower.peerLost('n1');
  await assert.rejects(left, (e: unknown) => isChimeError(e, 'OUTCOME_UNKNOWN'));
  assert.deepEqual(await named, { kind: 'lost' });
  assert.deepEqual(await waiting, { kind: 'notRun' });
  assert.equal(p.follower.stats.outcomeUnknown, 1);
  assert.equal(p.follower.stats.lost, 1);
  assert.equal(p.follower.stats.notRun, 1);
  // Another peer's loss touches nothing of n1's.
  const other = p.follower.forward('n1', put(3));
  await new Promise((r) => setImmediate(r));
  p.follower.peerLost('n3');
  assert.equal(p.follower.stats.inFlight, 1);
  p.follower.close();
  await assert.rejects(other, (e: unknown) => isChimeError(e, 'SHUTTING_DOWN'));
});

test('the leader\'s connection to the follower closed: requests that left are lost or of unknown outcome; the rest still go', async () => {
  const p = pair(() => new Promise<ForwardAnswer>(() => undefined));
  const plain = p.follower.forward('n1', put(1));
  const named = p.follower.forward('n1', put(2, 'f00d.2'));
  await new Promise((r) => setImmediate(r));
  const later = p.follower.forward('n1', put(3, 'f00d.3'));
  // The answers would come on n1's own connection to this node, which just closed.
  p.follower.answersLost('n1');
  await assert.rejects(plain, (e: unknown) => isChimeError(e, 'OUTCOME_UNKNOWN'));
  assert.deepEqual(await named, { kind: 'lost' });
  assert.equal(p.follower.stats.inFlight, 1, 'the request not yet sent leaves on this node\'s connection, which is unaffected');
  await new Promise((r) => setImmediate(r));
  assert.equal(p.frames.filter((f) => f.from === 'n2' && f.frame.kind === 'requests').length, 2);
  p.follower.close();
  await assert.rejects(later, (e: unknown) => isChimeError(e, 'SHUTTING_DOWN'));
});

test('answers the leader\'s link refused reach the follower as "lost" once it takes frames again, not after the deadline', async () => {
  const p = pair(echo());
  // Only the leader's side refuses (its queue to the follower is full).
  p.refuseFrom.add('n1');
  const started = performance.now();
  const named = p.follower.forward('n1', put(1, 'cafe.1'));
  const plain = p.follower.forward('n1', put(2));
  await waitFor('both answers refused', () => p.leader.stats.answersRefused === 2, 2000);
  p.refuseFrom.clear();
  assert.deepEqual(await named, { kind: 'lost' }, 'with a write id: re-sent by the server as a retry');
  await assert.rejects(plain, (e: unknown) => isChimeError(e, 'OUTCOME_UNKNOWN'));
  assert.ok(performance.now() - started < DEFAULT_FORWARD_LIMITS.deadlineMs, 'well before the deadline');
  assert.equal(p.leader.stats.answersDropped, 0);
  assert.equal(p.follower.stats.inFlight, 0);
});

test('a refused "not run" answer reaches its sender as not run (it may go elsewhere), not as lost', async () => {
  // The receiver is no longer the leader for one of the two: it hands that one back unrun.
  const p = pair(async (_from, request) => (request.path === '/v1/jobs/j1' ? { id: request.id, notRun: true } : echo()(_from, request, new AbortController().signal)));
  p.refuseFrom.add('n1');
  const unrun = p.follower.forward('n1', put(1, 'cafe.2'));
  const ran = p.follower.forward('n1', put(2, 'cafe.3'));
  await waitFor('both answers refused', () => p.leader.stats.answersRefused === 2, 2000);
  p.refuseFrom.clear();
  assert.deepEqual(await unrun, { kind: 'notRun' });
  assert.deepEqual(await ran, { kind: 'lost' }, 'an answer that said what happened is not kept: its sender retries under the write id');
  assert.equal(p.follower.stats.notRun, 1);
  assert.equal(p.follower.stats.lost, 1);
});

test('refused answers are given up on at the deadline, and beyond the per-peer limit', async () => {
  const p = pair(echo(), { deadlineMs: 150, servedPerPeerMax: 3 });
  p.refuseFrom.add('n1');
  // Five requests: three run, two are refused by the per-peer limit; all five answers are refused.
  const outcomes = Array.from({ length: 5 }, (_, n) => p.follower.forward('n1', put(n)).catch((e: unknown) => e));
  await waitFor('five answers refused', () => p.leader.stats.answersRefused === 5, 2000);
  assert.equal(p.leader.stats.answersDropped, 2, 'the per-peer limit keeps three of them to resend');
  await waitFor('the rest given up at the deadline', () => p.leader.stats.answersDropped === 5, 2000);
  for (const outcome of await Promise.all(outcomes)) assert.ok(isChimeError(outcome, 'TIMEOUT'), 'their senders time out');
});

test('a frame the link refuses did not leave: its requests come back as not run', async () => {
  const p = pair(echo());
  p.linkUp = false;
  assert.deepEqual(await p.follower.forward('n1', put(1)), { kind: 'notRun' });
  p.linkUp = true;
  assert.equal((await p.follower.forward('n1', put(2))).kind, 'answered');
});

test('a "lost" answer (proposed, then deposed) resolves as lost, and the write id and where its first try lies cross the link', async () => {
  const seen: [string | null, number | null][] = [];
  const p = pair(async (_from, request) => {
    seen.push([request.writeId, request.retrySince]);
    return { id: request.id, lost: true };
  });
  assert.deepEqual(await p.follower.forward('n1', { ...put(1, 'beef.9'), retrySince: 41 }), { kind: 'lost' });
  assert.deepEqual(seen, [['beef.9', 41]]);
  assert.equal(parseForwardFrame({ kind: 'requests', items: [{ ...put(1, 'no spaces allowed'), id: 1 }] }), null, 'a malformed write id refuses the frame');
  assert.equal(parseForwardFrame({ kind: 'requests', items: [{ ...put(1), retrySince: 3, id: 1 }] }), null, 'a retry names its write');
});

test('a "not run" answer from the leader resolves as notRun; an answer from another peer is not taken', async () => {
  const p = pair(async (_from, request) => ({ id: request.id, notRun: true }));
  assert.deepEqual(await p.follower.forward('n1', put(1)), { kind: 'notRun' });
  // n3 answering the id of a request that went to n1 changes nothing.
  const pending = p.follower.forward('n1', put(2));
  p.follower.receive('n3', { kind: 'answers', items: [{ id: 2, notRun: false, status: 200, headers: {}, body: new Uint8Array(0) }] });
  assert.equal(p.follower.stats.lateAnswers, 1);
  assert.deepEqual(await pending, { kind: 'notRun' });
});

test('parseForwardFrame takes only well-formed frames', () => {
  const body = Buffer.from('{}');
  const request = { id: 1, method: 'PUT', path: '/v1/jobs/a', headers: { 'content-type': 'application/json' }, body, writeId: '0a1b.2', retrySince: null };
  assert.ok(parseForwardFrame(packr.unpack(packr.pack({ kind: 'requests', items: [request] }))) !== null);
  const bad: unknown[] = [
    null,
    { kind: 'other', items: [] },
    { kind: 'requests', items: [{ ...request, method: 'GET' }] },
    { kind: 'requests', items: [{ ...request, id: -1 }] },
    { kind: 'requests', items: [{ ...request, path: 'v1/jobs' }] },
    { kind: 'requests', items: [{ ...request, body: 'text' }] },
    { kind: 'requests', items: [{ ...request, writeId: 7 }] },
    { kind: 'requests', items: [{ ...request, retrySince: -1 }] },
    { kind: 'requests', items: [{ ...request, headers: { 'Bad Name': 'x' } }] },
    { kind: 'requests', items: [{ ...request, headers: Object.fromEntries(Array.from({ length: 17 }, (_, i) => [`h${i}`, 'x'])) }] },
    { kind: 'requests', items: Array.from({ length: FORWARD_BATCH_ITEMS_MAX + 1 }, () => request) },
    { kind: 'answers', items: [{ id: 1, notRun: false, status: 99, headers: {}, body }] },
    { kind: 'answers', items: [{ id: 1, status: 200, headers: {}, body }] },
  ];
  for (const frame of bad) assert.equal(parseForwardFrame(frame), null, JSON.stringify(frame)?.slice(0, 120));
});
