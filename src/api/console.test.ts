import { test } from 'node:test';
import { accessOf } from '../../test/support/access-fixtures.js';
import assert from 'node:assert/strict';
import { brotliDecompressSync, gunzipSync } from 'node:zlib';
import { jsonLogger } from '../log/index.js';
import { chooseEncoding, consoleRoutes, CONSOLE_CSP } from './console.js';
import { ApiServer } from './server.js';

const FILES: Record<string, string> = {
  'index.html': `<!doctype html><title>chime</title>${'<p>console</p>'.repeat(100)}`,
  'index.js': `export const x = 1;${' '.repeat(2000)}`,
  'style.css': 'body{margin:0}',
};

async function withServer(run: (base: string, reads: string[]) => Promise<void>): Promise<void> {
  const reads: string[] = [];
  const api = new ApiServer({ logger: jsonLogger('t', 'api', () => {}, 'error') });
  const address = await api.listen('127.0.0.1', 0);
  api.serve({ nodeId: 't', isLeader: () => true, leader: () => 't', leaderHttp: () => null, appliedIndex: () => 0 }, consoleRoutes((name) => {
    reads.push(name);
    return FILES[name] === undefined ? null : Buffer.from(FILES[name]);
  }), { send: () => false, reachable: () => false }, accessOf());
  try {
    await run(`http://${address}`, reads);
  } finally {
    await api.close();
  }
}

test('GET / answers the index page with a strict CSP, no-cache and an ETag of its content', async () => {
  await withServer(async (base) => {
    const res = await fetch(`${base}/`, { headers: { 'accept-encoding': 'identity' } });
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('content-type'), 'text/html; charset=utf-8');
    assert.equal(res.headers.get('content-security-policy'), CONSOLE_CSP);
    assert.ok(!CONSOLE_CSP.includes('unsafe-inline'));
    assert.equal(res.headers.get('cache-control'), 'no-cache');
    assert.equal(res.headers.get('x-content-type-options'), 'nosniff');
    assert.equal(await res.text(), FILES['index.html']);
    const etag = res.headers.get('etag');
    assert.ok(etag !== null && etag.startsWith('"'));
    const again = await fetch(`${base}/`, { headers: { 'if-none-match': etag } });
    assert.equal(again.status, 304);
  });
});

test('scripts and styles get their types; bodies are brotli or gzip as accepted', async () => {
  await withServer(async (base) => {
    const raw = (path: string, encoding: string) => new Promise<{ status: number; headers: Record<string, unknown>; body: Buffer }>((resolve, reject) => {
      import('node:http').then(({ get }) => get(`${base}${path}`, { headers: { 'accept-encoding': encoding } }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c)).on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
      }).on('error', reject), reject);
    });
    const br = await raw('/console/index.js', 'gzip, deflate, br');
    assert.equal(br.headers['content-type'], 'text/javascript; charset=utf-8');
    assert.equal(br.headers['content-encoding'], 'br');
    assert.equal(brotliDecompressSync(br.body).toString(), FILES['index.js']);
    const gz = await raw('/console/index.js', 'gzip');
    assert.equal(gz.headers['content-encoding'], 'gzip');
    assert.equal(gunzipSync(gz.body).toString(), FILES['index.js']);
    const css = await raw('/console/style.css', 'gzip');
    assert.equal(css.headers['content-type'], 'text/css; charset=utf-8');
    assert.equal(css.headers['content-encoding'], undefined, 'a tiny file is sent as it is');
  });
});

test('names outside the flat console folder, and missing files, are 404 problems without a read', async () => {
  await withServer(async (base, reads) => {
    for (const path of ['/console/missing.js', '/console/..%2F..%2Fpackage.json', '/console/.hidden.js', '/console/x.exe']) {
      const res = await fetch(`${base}${path}`);
      assert.equal(res.status, 404, path);
      assert.equal(res.headers.get('content-type'), 'application/problem+json');
    }
    assert.deepEqual(reads, ['missing.js']);
  });
});

test('each file is read once per process', async () => {
  await withServer(async (base, reads) => {
    for (let i = 0; i < 3; i++) await (await fetch(`${base}/console/index.js`)).text();
    assert.deepEqual(reads, ['index.js']);
  });
});

test('chooseEncoding prefers brotli, honours q=0 and falls back to identity', () => {
  assert.equal(chooseEncoding(undefined), null);
  assert.equal(chooseEncoding('gzip, br'), 'br');
  assert.equal(chooseEncoding('br;q=0, gzip'), 'gzip');
  assert.equal(chooseEncoding('*'), 'gzip');
  assert.equal(chooseEncoding('identity'), null);
  assert.equal(chooseEncoding('gzip;q=0'), null);
});
