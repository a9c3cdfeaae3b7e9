// What a route is handed for one request. Plain fields and functions only: with an accessor
// in the request's object literals, every request outlived young garbage collections
// (docs/benchmarks.md, "What a scavenge copies"). `gone()` is made when first asked for, also
// after the client hung up.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { request } from 'node:http';
import { accessOf } from '../../test/support/access-fixtures.js';
import { waitFor } from '../../test/support/wait-for.js';
import { jsonLogger } from '../log/index.js';
import { ApiServer, type RequestContext } from './server.js';
import { sendJson } from './problem.js';

async function serve(routes: { path: string; handle: (ctx: RequestContext) => Promise<void> }[]): Promise<{ api: ApiServer; address: string }> {
  const api = new ApiServer({ logger: jsonLogger('t', 'api', () => {}, 'error') });
  const address = await api.listen('127.0.0.1', 0);
  api.serve({ nodeId: 't', isLeader: () => true, leader: () => 't', leaderHttp: () => null, appliedIndex: () => 0 },
    routes.map((r) => ({ method: 'GET' as const, path: r.path, permission: 'public' as const, write: false, handle: r.handle })),
    { send: () => false, reachable: () => false }, accessOf());
  return { api, address };
}

function get(address: string, path: string): { done: Promise<number>; hangUp: () => void } {
  const at = address.lastIndexOf(':');
  const req = request({ host: address.slice(0, at), port: Number(address.slice(at + 1)), path });
  const done = new Promise<number>((resolve, reject) => {
    req.on('response', (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('error', reject);
  });
  req.end();
  return { done, hangUp: () => req.destroy() };
}

test('a route\'s context has no accessors, and one abort signal made when first asked for', async () => {
  let accessors: string[] = ['not run'];
  let sameSignal = false;
  let aborted = true;
  const { api, address } = await serve([{
    path: '/v1/probe',
    handle: async (ctx) => {
      accessors = Object.entries(Object.getOwnPropertyDescriptors(ctx)).filter(([, d]) => d.get !== undefined || d.set !== undefined).map(([name]) => name);
      sameSignal = ctx.gone() === ctx.gone();
      aborted = ctx.gone().aborted;
      sendJson(ctx.res, 200, {});
    },
  }]);
  try {
    assert.equal(await get(address, '/v1/probe').done, 200);
    assert.deepEqual(accessors, []);
    assert.equal(sameSignal, true);
    assert.equal(aborted, false, 'the client is still there');
  } finally {
    await api.close();
  }
});

test('a client that hangs up aborts the signal, whether the route asked for it before or after', async () => {
  const started: string[] = [];
  const seen: string[] = [];
  const { api, address } = await serve([
    {
      path: '/v1/asks-first',
      handle: async (ctx) => {
        const signal = ctx.gone();
        started.push('first');
        await new Promise<void>((resolve) => signal.addEventListener('abort', () => resolve(), { once: true }));
        seen.push('asked first: aborted');
      },
    },
    {
      path: '/v1/asks-later',
      handle: async (ctx) => {
        const stream = ctx.stream;
        assert.ok(stream !== null);
        started.push('later');
        await new Promise<void>((resolve) => stream.once('close', () => resolve()));
        seen.push(`asked later: ${ctx.gone().aborted ? 'aborted' : 'not aborted'}`);
      },
    },
  ]);
  try {
    const first = get(address, '/v1/asks-first');
    const second = get(address, '/v1/asks-later');
    first.done.catch(() => undefined);
    second.done.catch(() => undefined);
    await waitFor('both requests running', () => started.length === 2);
    first.hangUp();
    second.hangUp();
    await waitFor('both routes saw the hang-up', () => seen.length === 2);
    assert.deepEqual(seen.sort(), ['asked first: aborted', 'asked later: aborted']);
  } finally {
    await api.close();
  }
});
