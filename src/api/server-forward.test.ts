// Two API servers joined by an in-memory forward link, with leadership in the test's hands:
// a write reaching a node without a reachable leader is held (bounded in time and number)
// and goes to the leader once one is known; a write a reroutable route reports as not run
// (PROPOSAL_DROPPED, NOT_LEADER) goes to the new leader instead of failing; one whose outcome
// was lost (proposed, then deposed; the leader's connection broke) goes again as a retry of
// the same write id; any other error, and any error of a route that is not reroutable,
// reaches the client as it is.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ChimeError } from '../errors/index.js';
import { accessOf } from '../../test/support/access-fixtures.js';
import { waitFor } from '../../test/support/wait-for.js';
import { jsonLogger } from '../log/index.js';
import { sendJson } from './problem.js';
import { ApiServer, type Route } from './server.js';
import type { ForwardFrame } from './forward-wire.js';
import type { LeaderGate } from './services.js';

interface Node {
  readonly id: string;
  readonly api: ApiServer;
  readonly base: string;
  /** Writes this node ran itself, by path. */
  readonly ran: string[];
  /** The write id and retrySince of each write route run here (failed tries too), as its audit record carries them. */
  readonly tries: { readonly path: string; readonly writeId: string | undefined; readonly retrySince: number | undefined }[];
}

interface Control {
  /** Who leads (null: nobody known); each node's gate reads it. */
  leader: string | null;
  /** Whether the link between the two is up. */
  linkUp: boolean;
  /** The next runs of a write route fail with these (made when the run happens), on whichever node. */
  failNext: (() => ChimeError)[];
  /** While set, write routes wait for it before answering. */
  gate: Promise<void> | null;
}

interface Pair extends Control {
  readonly a: Node;
  readonly b: Node;
  close(): Promise<void>;
}

async function pair(options: { leaderWaitMs?: number; heldWritesMax?: number; forward?: { inFlightMax: number } } = {}): Promise<Pair> {
  const nodes = new Map<string, Node>();
  const ctl: Control = { leader: null, linkUp: true, failNext: [], gate: null };
  const make = async (id: string): Promise<Node> => {
    const api = new ApiServer({ logger: jsonLogger(id, 'api', () => {}, 'error'), ...options });
    const base = `http://${await api.listen('127.0.0.1', 0)}`;
    const ran: string[] = [];
    const tries: Node['tries'] = [];
    const gate: LeaderGate = { nodeId: id, isLeader: () => ctl.leader === id, leader: () => ctl.leader, leaderHttp: () => null, appliedIndex: () => 7 };
    const write: Route['handle'] = async (ctx) => {
      const { writeId, retrySince } = ctx.audit(null);
      tries.push({ path: ctx.url.pathname, writeId, retrySince });
      const failure = ctl.failNext.shift();
      if (failure !== undefined) throw failure();
      if (ctl.gate !== null) await ctl.gate;
      ran.push(`${id} ${ctx.url.pathname}`);
      sendJson(ctx.res, 201, { ranOn: id, body: await ctx.body(), auth: ctx.req.headers['authorization'] ?? null });
    };
    const routes: Route[] = [
      { method: 'PUT', path: '/w/:id', permission: 'jobs.write', write: true, reroutable: true, handle: write },
      { method: 'POST', path: '/once/:id', permission: 'jobs.write', write: true, handle: write },
    ];
    api.serve(gate, routes, {
      send: (to, frame: ForwardFrame) => {
        if (!ctl.linkUp) return false;
        // Frames cross a turn later, as over a socket.
        setImmediate(() => nodes.get(to)?.api.receiveForward(id, frame));
        return true;
      },
      reachable: () => ctl.linkUp,
    }, accessOf());
    const node = { id, api, base, ran, tries };
    nodes.set(id, node);
    return node;
  };
  const a = await make('a');
  const b = await make('b');
  return Object.assign(ctl, {
    a,
    b,
    close: async () => {
      for (const node of nodes.values()) await node.api.close();
    },
  });
}

interface Answer {
  readonly status: number;
  readonly body: { readonly ranOn?: unknown; readonly code?: unknown; readonly body?: unknown; readonly auth?: unknown };
  readonly retryAfter: string | null;
}

async function put(base: string, path: string, body: unknown = { x: 1 }): Promise<Answer> {
  const res = await fetch(base + path, { method: path.startsWith('/once') ? 'POST' : 'PUT', headers: { 'content-type': 'application/json', authorization: 'Bearer t-1' }, body: JSON.stringify(body) });
  const value: unknown = await res.json();
  assert.ok(typeof value === 'object' && value !== null);
  const fields = new Map(Object.entries(value));
  return { status: res.status, body: { ranOn: fields.get('ranOn'), code: fields.get('code'), body: fields.get('body'), auth: fields.get('auth') }, retryAfter: res.headers.get('retry-after') };
}

test('a write on a follower runs on the leader, with its body and the caller\'s Authorization', async () => {
  const p = await pair();
  try {
    p.leader = 'b';
    const answer = await put(p.a.base, '/w/1', { hello: 'there' });
    assert.equal(answer.status, 201);
    assert.deepEqual(answer.body, { ranOn: 'b', code: undefined, body: { hello: 'there' }, auth: 'Bearer t-1' });
    assert.deepEqual(p.a.ran, []);
  } finally {
    await p.close();
  }
});

test('with no leader known the write is held, then goes to the leader once one is known', async () => {
  const p = await pair();
  try {
    const answer = put(p.a.base, '/w/2');
    await waitFor('the write to wait on a, unanswered', () => p.a.api.forwardStats()['held'] === 1);
    p.leader = 'b';
    p.a.api.leaderChanged();
    assert.equal((await answer).body.ranOn, 'b');
    // …or runs here, when this node is the one that won.
    p.leader = null;
    const mine = put(p.a.base, '/w/3');
    await waitFor('the write to wait on a', () => p.a.api.forwardStats()['held'] === 1);
    p.leader = 'a';
    p.a.api.leaderChanged();
    assert.equal((await mine).body.ranOn, 'a');
  } finally {
    await p.close();
  }
});

test('a held write is bounded: 503 NO_LEADER with Retry-After after the wait, and at once beyond the count', async () => {
  const p = await pair({ leaderWaitMs: 400, heldWritesMax: 1 });
  try {
    const first = put(p.a.base, '/w/4');
    await waitFor('the first write to wait on a', () => p.a.api.forwardStats()['held'] === 1);
    const second = await put(p.a.base, '/w/5');
    assert.equal(second.status, 503);
    assert.equal(second.body.code, 'NO_LEADER');
    assert.equal(second.retryAfter, '1');
    const started = performance.now();
    const timedOut = await first;
    assert.equal(timedOut.status, 503);
    assert.equal(timedOut.body.code, 'NO_LEADER');
    assert.ok(performance.now() - started < 2000);
    // A leader known but unreachable holds the write the same way.
    p.leader = 'b';
    p.linkUp = false;
    assert.equal((await put(p.a.base, '/w/6')).body.code, 'NO_LEADER');
  } finally {
    await p.close();
  }
});

test('a write the leader reports as not run (overwritten, deposed) goes to the new leader; the client sees success', async () => {
  const p = await pair();
  try {
    p.leader = 'a';
    // The handler on a fails as a deposed leader's would, leadership having moved to b.
    p.failNext.push(() => {
      p.leader = 'b';
      return new ChimeError('PROPOSAL_DROPPED', 'overwritten');
    });
    const answer = await put(p.a.base, '/w/7');
    assert.equal(answer.status, 201);
    assert.equal(answer.body.ranOn, 'b');
    // Forwarded to b, which has just lost leadership to a: b hands it back unrun, and a runs it.
    p.failNext.push(() => {
      p.leader = 'a';
      return new ChimeError('NOT_LEADER', 'not me');
    });
    const back = await put(p.a.base, '/w/8');
    assert.equal(back.status, 201);
    assert.equal(back.body.ranOn, 'a');
    assert.deepEqual([...p.a.ran, ...p.b.ran], ['a /w/8', 'b /w/7']);
  } finally {
    await p.close();
  }
});

test('errors that do not mean "not run" or "lost", and any error of a route that is not reroutable, reach the client', async () => {
  const p = await pair();
  try {
    p.leader = 'b';
    p.failNext.push(() => new ChimeError('JOB_NOT_FOUND', 'no such job'));
    const refused = await put(p.a.base, '/w/9');
    assert.equal(refused.status, 404);
    assert.equal(refused.body.code, 'JOB_NOT_FOUND');
    p.failNext.push(() => new ChimeError('LEADERSHIP_LOST', 'may or may not'));
    const unknown = await put(p.a.base, '/once/0');
    assert.equal(unknown.status, 503);
    assert.equal(unknown.body.code, 'LEADERSHIP_LOST');
    p.failNext.push(() => new ChimeError('NOT_LEADER', 'the scheduler is not running here yet'));
    const once = await put(p.a.base, '/once/1');
    assert.equal(once.status, 503);
    assert.equal(once.body.code, 'NOT_LEADER');
    assert.deepEqual([...p.a.ran, ...p.b.ran], []);
  } finally {
    await p.close();
  }
});

test('beyond the forwarded writes in flight a write is refused at once: 429 FORWARDS_FULL, problem+json, Retry-After', async () => {
  const p = await pair({ forward: { inFlightMax: 1 } });
  try {
    p.leader = 'b';
    let open: () => void = () => undefined;
    p.gate = new Promise<void>((resolve) => (open = resolve));
    const first = put(p.a.base, '/w/10');
    await waitFor('the first write to be on its way', () => p.a.api.forwardStats()['inFlight'] === 1);
    const res = await fetch(`${p.a.base}/w/11`, { method: 'PUT', headers: { 'content-type': 'application/json' }, body: '{}' });
    assert.equal(res.status, 429);
    assert.equal(res.headers.get('content-type'), 'application/problem+json');
    assert.equal(res.headers.get('retry-after'), '1');
    const problem: unknown = await res.json();
    assert.ok(typeof problem === 'object' && problem !== null && 'code' in problem);
    assert.equal(problem.code, 'FORWARDS_FULL');
    open();
    assert.equal((await first).status, 201);
    assert.equal(p.a.api.forwardStats()['refusedFull'], 1);
  } finally {
    await p.close();
  }
});

test('a write proposed and then lost with its leader goes again to the next leader as a retry of the same write id', async () => {
  const p = await pair();
  try {
    // Forwarded to b, which proposes it and loses leadership to a before it applies.
    p.leader = 'b';
    p.failNext.push(() => {
      p.leader = 'a';
      return new ChimeError('LEADERSHIP_LOST', 'deposed before it applied');
    });
    const answer = await put(p.a.base, '/w/20');
    assert.equal(answer.status, 201);
    assert.equal(answer.body.ranOn, 'a');
    const [first, second] = [...p.b.tries, ...p.a.tries];
    assert.ok(first !== undefined && second !== undefined && typeof first.writeId === 'string');
    assert.deepEqual([first.retrySince, second.retrySince, second.writeId], [undefined, 7, first.writeId], 'the same write, now a retry beyond what a had applied when it first sent it');
    // Sent by a client straight to the leader, which loses leadership to b: b gets the retry.
    p.failNext.push(() => {
      p.leader = 'b';
      return new ChimeError('TIMEOUT', 'not confirmed in time');
    });
    const direct = await put(p.a.base, '/w/21');
    assert.equal(direct.body.ranOn, 'b');
    const tries = [...p.a.tries, ...p.b.tries].filter((t) => t.path === '/w/21');
    assert.deepEqual(tries.map((t) => t.retrySince), [undefined, 7]);
    assert.equal(new Set(tries.map((t) => t.writeId)).size, 1);
    // Two requests are two writes.
    assert.notEqual(first.writeId, tries[0]?.writeId);
  } finally {
    await p.close();
  }
});

test('the connection to the leader breaks after a write left: it is re-sent to the next leader as a retry, not answered "unknown"', async () => {
  const p = await pair();
  let release = (): void => {};
  try {
    p.leader = 'b';
    p.gate = new Promise((resolve) => (release = resolve));
    const answer = put(p.a.base, '/w/22');
    await waitFor('the write to reach b', () => p.b.tries.length === 1);
    p.gate = null;
    // b dies with the write in hand; a wins the election.
    p.a.api.peerLost('b');
    p.leader = 'a';
    p.a.api.leaderChanged();
    const settled = await answer;
    assert.equal(settled.status, 201);
    assert.equal(settled.body.ranOn, 'a');
    assert.equal(p.a.tries[0]?.retrySince, 7);
    assert.equal(p.a.tries[0]?.writeId, p.b.tries[0]?.writeId);
    assert.equal(p.a.api.forwardStats()['lost'], 1);
    // A write that is not one proposal (no write id) still ends as "unknown".
    p.leader = 'b';
    p.gate = new Promise(() => undefined);
    const once = put(p.a.base, '/once/2');
    await waitFor('the write to reach b', () => p.b.tries.length === 2);
    p.a.api.peerLost('b');
    assert.equal((await once).body.code, 'OUTCOME_UNKNOWN');
  } finally {
    release();
    p.gate = null;
    await p.close();
  }
});
