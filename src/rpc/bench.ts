// Loopback throughput of TcpTransport: `node dist/src/rpc/bench.js [--messages N] [--bytes B]`.
// Sends append messages carrying one entry of B bytes from a to b, keeping a window in
// flight within the queue limit, and prints messages/s and MB/s of entry payload.
import { TcpTransport } from './tcp-transport.js';
import type { Message } from '../raft/index.js';

function option(name: string, fallback: number): number {
  const at = process.argv.indexOf(`--${name}`);
  const value = at >= 0 ? Number(process.argv[at + 1]) : fallback;
  if (!Number.isInteger(value) || value < 0) throw new Error(`--${name} must be a non-negative integer`);
  return value;
}

async function run(total: number, entryBytes: number): Promise<void> {
  const key = new TextEncoder().encode('bench-key-bench-key-bench-key-!!');
  const window = Math.max(4, Math.min(1_000, Math.floor((32 << 20) / Math.max(1, entryBytes))));
  const data = new Uint8Array(entryBytes).fill(7);
  let sent = 0;
  let received = 0;
  let finish: () => void = () => undefined;
  const done = new Promise<void>((resolve) => (finish = resolve));
  const message = (i: number): Message => ({ type: 'app', from: 'a', to: 'b', term: 1, prevIndex: i, prevTerm: 1, commit: i, entries: [{ index: i + 1, term: 1, kind: 'normal', data }] });
  const a = new TcpTransport({ id: 'a', clusterId: 'bench', key, onMessage: () => undefined, queueMessagesMax: window * 2 });
  const topUp = (): void => {
    while (sent < total && sent - received < window) if (a.send('b', { channel: 'raft', message: message(sent++) }) === false) throw new Error('unexpected drop');
  };
  const b = new TcpTransport({
    id: 'b', clusterId: 'bench', key,
    onMessage: () => {
      received += 1;
      if (received === total) finish();
      else if (sent - received < window / 2) topUp();
    },
  });
  const bound = await b.listen('127.0.0.1', 0);
  await a.listen('127.0.0.1', 0);
  a.setPeers(new Map([['b', `127.0.0.1:${bound.port}`]]));
  const startedMs = performance.now();
  topUp();
  await done;
  const seconds = (performance.now() - startedMs) / 1000;
  const wireMb = a.metrics.bytesSent / 1e6;
  process.stdout.write(`${total} messages of ${entryBytes} B entry: ${Math.round(total / seconds)} msg/s, ${((total * entryBytes) / 1e6 / seconds).toFixed(1)} MB/s payload, ${(wireMb / seconds).toFixed(1)} MB/s on the wire\n`);
  await Promise.all([a.close(), b.close()]);
}

async function main(): Promise<void> {
  const messages = option('messages', 0);
  const bytes = option('bytes', -1 >>> 0);
  if (messages > 0 && bytes !== -1 >>> 0) return run(messages, bytes);
  await run(200_000, 64);
  await run(50_000, 4_096);
  await run(2_000, 1 << 20);
}

main().catch((error: unknown) => {
  process.stderr.write(`${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exitCode = 1;
});
