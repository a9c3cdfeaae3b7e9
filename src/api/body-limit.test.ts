// A body over the limit gets a 413 problem+json that a client writing its whole body first
// actually reads (api.md): node:http with content-length, chunked, and Expect: 100-continue.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { request } from 'node:http';
import { accessOf } from '../../test/support/access-fixtures.js';
import { jsonLogger } from '../log/index.js';
import { ApiServer } from './server.js';
import { sendJson } from './problem.js';

type Answer = { status: number; code: string | null; continued: boolean };

function put(address: string, bytes: number, headers: Record<string, string>, waitForContinue = false): Promise<Answer> {
  const at = address.lastIndexOf(':');
  return new Promise((done, fail) => {
    let continued = false;
    const req = request({ host: address.slice(0, at), port: Number(address.slice(at + 1)), method: 'PUT', path: '/v1/jobs/big', headers: { 'content-type': 'application/json', ...headers } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const body: unknown = JSON.parse(Buffer.concat(chunks).toString('utf8'));
        const code = typeof body === 'object' && body !== null ? Reflect.get(body, 'code') : null;
        done({ status: res.statusCode ?? 0, code: typeof code === 'string' ? code : null, continued });
      });
    });
    req.on('error', fail);
    const body = Buffer.alloc(bytes, 'x');
    if (waitForContinue) {
      req.on('continue', () => {
        continued = true;
        req.end(body);
      });
    } else {
      // Written in pieces, as a client streaming a file would.
      for (let i = 0; i < bytes; i += 256 * 1024) req.write(body.subarray(i, i + 256 * 1024));
      req.end();
    }
  });
}

test('an 8 MiB body (declared, chunked, or behind Expect: 100-continue) is answered 413 problem+json that the client reads', async () => {
  const api = new ApiServer({ logger: jsonLogger('t', 'api', () => {}, 'error') });
  const address = await api.listen('127.0.0.1', 0);
  let handled = 0;
  api.serve({ nodeId: 't', isLeader: () => true, leader: () => 't', leaderHttp: () => null, appliedIndex: () => 0 }, [{
    method: 'PUT', path: '/v1/jobs/:id', permission: 'jobs.write', write: true,
    handle: async (ctx) => {
      await ctx.body();
      handled++;
      sendJson(ctx.res, 200, {});
    },
  }], { send: () => false, reachable: () => false }, accessOf());
  try {
    const size = 8 << 20;
    const declared = await put(address, size, { 'content-length': String(size) });
    assert.deepEqual(declared, { status: 413, code: 'BODY_TOO_LARGE', continued: false });
    const chunked = await put(address, 3 << 20, { 'transfer-encoding': 'chunked' });
    assert.deepEqual(chunked, { status: 413, code: 'BODY_TOO_LARGE', continued: false });
    const expecting = await put(address, size, { 'content-length': String(size), expect: '100-continue' }, true);
    assert.deepEqual(expecting, { status: 413, code: 'BODY_TOO_LARGE', continued: false }, 'refused before the body was sent');
    assert.equal((await put(address, 100, { 'content-length': '100', expect: '100-continue' }, true)).status, 400, 'a small body goes on (and is not JSON)');
    assert.equal(handled, 0);
  } finally {
    await api.close();
  }
});
