import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, connect, type Server, type Socket } from 'node:net';
import { LinkProxy } from './proxy.js';
import { waitFor } from '../support/process-cluster.js';

async function echoServer(): Promise<{ server: Server; port: number }> {
  const server = createServer((s) => s.pipe(s));
  await new Promise<void>((done) => server.listen(0, '127.0.0.1', () => done()));
  const address = server.address();
  return { server, port: typeof address === 'object' && address !== null ? address.port : 0 };
}

function client(port: number): { socket: Socket; received: () => string; closed: () => boolean } {
  const socket = connect({ host: '127.0.0.1', port });
  let text = '';
  let closed = false;
  socket.on('data', (c: Buffer) => (text += c.toString()));
  socket.on('close', () => (closed = true));
  socket.on('error', () => {});
  return { socket, received: () => text, closed: () => closed };
}

test('link proxy: up forwards, delay holds, stall moves nothing and resets on heal, cut refuses', async () => {
  const { server, port } = await echoServer();
  const proxy = new LinkProxy('a', 'b', () => ({ host: '127.0.0.1', port }));
  const proxyPort = await proxy.listen();
  try {
    const c = client(proxyPort);
    c.socket.write('hello');
    await waitFor('echo through the proxy', () => c.received() === 'hello', 5000);

    proxy.setMode({ kind: 'delay', delayMs: 300 });
    const sentAt = performance.now();
    c.socket.write('-slow');
    await waitFor('delayed echo', () => c.received() === 'hello-slow', 5000);
    assert.ok(performance.now() - sentAt >= 280, 'the delay held the bytes');

    proxy.setMode({ kind: 'stall' });
    c.socket.write('-stalled');
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(c.received(), 'hello-slow', 'no byte crossed a stalled link');
    proxy.setMode({ kind: 'up' });
    await waitFor('the stalled connection to be reset on heal', () => c.closed(), 5000);
    assert.equal(c.received(), 'hello-slow', 'held bytes were dropped, not delivered late');

    proxy.setMode({ kind: 'cut' });
    const refused = client(proxyPort);
    await waitFor('a connection through a cut link to close', () => refused.closed(), 5000);
    proxy.setMode({ kind: 'up' });
    const again = client(proxyPort);
    again.socket.write('back');
    await waitFor('echo after healing', () => again.received() === 'back', 5000);
    again.socket.destroy();
  } finally {
    await proxy.close();
    await new Promise((done) => server.close(() => done(undefined)));
  }
});
