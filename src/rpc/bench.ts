// Loopback throughput of TcpTransport, over plain TCP and over mutual TLS:
// `node dist/src/rpc/bench.js [--messages N] [--bytes B] [--tls | --plain]`.
// Sends append messages carrying one entry of B bytes from a to b, keeping a window in
// flight within the queue limit, and prints messages/s and MB/s of entry payload.
import { makeBenchPki } from './bench-pki.js';
import type { PeerTlsOptions } from './peer-tls.js';
import { TcpTransport } from './tcp-transport.js';
import type { Message } from '../raft/index.js';

type Mode = 'plain' | 'tls';

function option(name: string, fallback: number): number {
  const at = process.argv.indexOf(`--${name}`);
  const value = at >= 0 ? Number(process.argv[at + 1]) : fallback;
  if (!Number.isInteger(value) || value < 0) throw new Error(`--${name} must be a non-negative integer`);
  return value;
}

const pki = makeBenchPki(['a', 'b']);

function tlsOf(mode: Mode, id: 'a' | 'b'): { tls?: PeerTlsOptions } {
  const node = pki.nodes[id];
  return mode === 'plain' || node === undefined ? {} : { tls: { cert: node.cert, key: node.key, ca: pki.ca.cert } };
}

async function run(mode: Mode, total: number, entryBytes: number, print = true): Promise<void> {
  const key = new TextEncoder().encode('bench-key-bench-key-bench-key-!!');
  const window = Math.max(4, Math.min(1_000, Math.floor((32 << 20) / Math.max(1, entryBytes))));
  const data = new Uint8Array(entryBytes).fill(7);
  let sent = 0;
  let received = 0;
  let finish: () => void = () => undefined;
  const done = new Promise<void>((resolve) => (finish = resolve));
  const message = (i: number): Message => ({ type: 'app', from: 'a', to: 'b', term: 1, prevIndex: i, prevTerm: 1, commit: i, entries: [{ index: i + 1, term: 1, kind: 'normal', data }] });
  const a = new TcpTransport({ id: 'a', clusterId: 'bench', key, onMessage: () => undefined, queueMessagesMax: window * 2, ...tlsOf(mode, 'a') });
  const topUp = (): void => {
    while (sent < total && sent - received < window) if (a.send('b', { channel: 'raft', message: message(sent++) }) === false) throw new Error('unexpected drop');
  };
  const b = new TcpTransport({
    id: 'b', clusterId: 'bench', key, ...tlsOf(mode, 'b'),
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
  // Frame bytes: what the transport writes; TLS adds its record overhead below that.
  if (print) process.stdout.write(`${mode.padEnd(5)} ${total} messages of ${entryBytes} B entry: ${Math.round(total / seconds)} msg/s, ${((total * entryBytes) / 1e6 / seconds).toFixed(1)} MB/s payload, ${(wireMb / seconds).toFixed(1)} MB/s of frames\n`);
  await Promise.all([a.close(), b.close()]);
}

async function main(): Promise<void> {
  const messages = option('messages', 0);
  const bytes = option('bytes', -1 >>> 0);
  const modes: Mode[] = process.argv.includes('--tls') ? ['tls'] : process.argv.includes('--plain') ? ['plain'] : ['plain', 'tls'];
  const sizes: [number, number][] = messages > 0 && bytes !== -1 >>> 0 ? [[messages, bytes]] : [[200_000, 64], [50_000, 4_096], [2_000, 1 << 20]];
  // A silent round first, so neither mode's figures include compiling the hot paths.
  for (const mode of modes) await run(mode, 20_000, 256, false);
  // Each size plain then TLS, so the two figures of a pair ran under the same machine load.
  for (const [total, entryBytes] of sizes) for (const mode of modes) await run(mode, total, entryBytes);
}

main().catch((error: unknown) => {
  process.stderr.write(`${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exitCode = 1;
});
