// `npm run bench:fire-floor [-- --rate 1000 --seconds 20 --client raw|http]`
// The least lateness a burst of HTTP starts can have on this machine, without Raft, a job
// table or an executor: three "executor" processes (as many as bench:fire's agents) hold
// rate/3 keep-alive connections each to the same sink bench:fire uses (raw-sink.ts, in this
// process) and, at every whole second, send one request per connection, all due at that
// instant. `--client raw` writes prebuilt request bytes on net sockets (the cheapest start);
// `--client http` sends node:http requests built ahead on a keep-alive agent, as chime's
// http executor does. Lateness = arrival at the sink − the instant, as in bench:fire.
import { fork, type ChildProcess } from 'node:child_process';
import { Agent, request, type ClientRequest } from 'node:http';
import { connect, type AddressInfo, type Socket } from 'node:net';
import { fileURLToPath } from 'node:url';
import { cliArgs } from '../support/cli-args.js';
import { percentile } from './http-load.js';
import { createRawSink } from './raw-sink.js';

const EXECUTORS = 3;

/** One executor process: `connections` requests at every whole second until `untilMs`. */
async function executor(port: number, connections: number, untilMs: number, client: string): Promise<void> {
  const path = (atMs: number, i: number) => `/hit?at=${encodeURIComponent(new Date(atMs).toISOString())}&job=${process.pid}-${i}`;
  const due = () => Math.ceil(Date.now() / 1000) * 1000;
  if (client === 'raw') {
    const sockets: Socket[] = await Promise.all(Array.from({ length: connections }, () => new Promise<Socket>((resolve) => {
      const socket = connect(port, '127.0.0.1', () => resolve(socket));
      socket.setNoDelay(true);
      socket.on('data', () => undefined);
    })));
    const wave = (atMs: number) => {
      // Built ahead, like a prepared request: at the instant only the writes are left.
      const bytes = sockets.map((_, i) => Buffer.from(`GET ${path(atMs, i)} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n`, 'latin1'));
      setTimeout(() => {
        sockets.forEach((socket, i) => socket.write(bytes[i] as Buffer));
        if (atMs + 1000 < untilMs) wave(atMs + 1000);
      }, atMs - Date.now());
    };
    wave(due() + 1000);
  } else {
    const agent = new Agent({ keepAlive: true, maxSockets: connections, maxFreeSockets: connections });
    const wave = (atMs: number) => {
      const prepared: ClientRequest[] = [];
      for (let i = 0; i < connections; i++) {
        const req = request({ agent, host: '127.0.0.1', port, path: path(atMs, i) }, (res) => res.resume());
        req.on('error', () => undefined);
        prepared.push(req);
      }
      setTimeout(() => {
        for (const req of prepared) req.end();
        if (atMs + 1000 < untilMs) wave(atMs + 1000);
      }, atMs - Date.now());
    };
    wave(due() + 1000);
  }
  setTimeout(() => process.exit(0), untilMs - Date.now() + 2000);
}

async function main(): Promise<void> {
  const { values } = cliArgs('npm run bench:fire-floor --', { options: { rate: { type: 'string', default: '1000' }, seconds: { type: 'string', default: '20' }, client: { type: 'string', default: 'raw' } } });
  const rate = Number(values.rate);
  const seconds = Number(values.seconds);
  if (values.client !== 'raw' && values.client !== 'http') throw new Error('--client must be raw or http');
  const stamps: { target: string; arrivedAtMs: number }[] = [];
  const sink = createRawSink((target, arrivedAtMs) => stamps.push({ target, arrivedAtMs }));
  await new Promise<void>((done) => sink.listen(0, '127.0.0.1', done));
  const port = (sink.address() as AddressInfo).port;
  // Two warm-up seconds, then the measured ones.
  const startMs = Math.ceil(Date.now() / 1000) * 1000 + 2000;
  const untilMs = startMs + (seconds + 2) * 1000;
  const cpuBefore = process.cpuUsage();
  const children: ChildProcess[] = [];
  for (let e = 0; e < EXECUTORS; e++) {
    const share = Math.floor(rate / EXECUTORS) + (e < rate % EXECUTORS ? 1 : 0);
    children.push(fork(fileURLToPath(import.meta.url), ['executor', String(port), String(share), String(untilMs), values.client]));
  }
  await Promise.all(children.map((c) => new Promise((resolve) => c.once('exit', resolve))));
  const sinkCpu = process.cpuUsage(cpuBefore);
  sink.close();
  const windowStartMs = untilMs - seconds * 1000;
  const byInstant = new Map<number, number[]>();
  for (const { target, arrivedAtMs } of stamps) {
    const atMs = Date.parse(decodeURIComponent(/[?&]at=([^&]*)/.exec(target)?.[1] ?? ''));
    if (atMs < windowStartMs || atMs >= untilMs) continue;
    byInstant.set(atMs, [...(byInstant.get(atMs) ?? []), arrivedAtMs - atMs]);
  }
  const lateness = [...byInstant.values()].flat().sort((a, b) => a - b);
  const lastOfInstant = [...byInstant.values()].map((l) => Math.max(...l)).sort((a, b) => a - b);
  console.log(`fire floor: ${EXECUTORS} processes, ${rate} requests at each whole second over keep-alive connections, client=${values.client}, node ${process.version}`);
  console.log(`arrivals=${lateness.length} expected=${rate * seconds} sink_cpu_ms_per_request=${((sinkCpu.user + sinkCpu.system) / 1000 / Math.max(1, stamps.length)).toFixed(3)}`);
  console.log(`lateness_ms p50=${percentile(lateness, 0.5)} p99=${percentile(lateness, 0.99)} max=${lateness.at(-1) ?? 'n/a'} min=${lateness[0] ?? 'n/a'}`);
  console.log(`lateness_ms of the last request of each instant: min=${lastOfInstant[0] ?? 'n/a'} p50=${percentile(lastOfInstant, 0.5)} max=${lastOfInstant.at(-1) ?? 'n/a'}`);
}

const [role, port, connections, untilMs, client] = process.argv.slice(2);
if (role === 'executor') await executor(Number(port), Number(connections), Number(untilMs), client ?? 'raw');
else await main();
