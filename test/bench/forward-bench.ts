// `node dist/test/bench/forward-bench.js [--writes 20000] [--clients 64] [--rounds 2]`
//
// The CPU one forwarded write costs in the forwarding mechanism alone, both ends in one
// process: the peer channel (ForwardChannel on both sides, frames packed and unpacked with the
// transport's msgpack settings, checked by parseForwardFrame) against proxying the same
// request over HTTP on a kept-alive agent (what followers did before), with the same body and
// answer. No Raft, no disk: what the forwarding adds to a write. CPU time (user + system) per
// write, from process.cpuUsage, so a loaded machine inflates both sides alike.
import { Agent, createServer, request } from 'node:http';
import { cliArgs } from '../support/cli-args.js';
import { Packr } from 'msgpackr';
import { DEFAULT_FORWARD_LIMITS, ForwardChannel, parseForwardFrame, type ForwardFrame } from '../../src/api/index.js';

const { values } = cliArgs('node dist/test/bench/forward-bench.js', { options: { writes: { type: 'string', default: '20000' }, clients: { type: 'string', default: '64' }, rounds: { type: 'string', default: '2' } } });
const WRITES = Number(values.writes);
const CLIENTS = Number(values.clients);
const packr = new Packr({ useRecords: false, mapsAsObjects: true });
const body = Buffer.from(JSON.stringify({ schedule: '@manual', executor: { type: 'shell', command: 'echo bench 1' }, labels: { bench: 'api' }, description: 'x'.repeat(150) }));
const answerBody = Buffer.from('x'.repeat(600));

async function measure(write: () => Promise<void>): Promise<{ cpuUsPerWrite: number; perSecond: number }> {
  let n = 0;
  const cpu0 = process.cpuUsage();
  const wall0 = performance.now();
  await Promise.all(Array.from({ length: CLIENTS }, async () => {
    while (n++ < WRITES) await write();
  }));
  const cpu = process.cpuUsage(cpu0);
  return { cpuUsPerWrite: (cpu.user + cpu.system) / WRITES, perSecond: WRITES / ((performance.now() - wall0) / 1000) };
}

async function channel(): Promise<{ cpuUsPerWrite: number; perSecond: number }> {
  const peers = new Map<string, ForwardChannel>();
  const link = (from: string) => ({
    send: (to: string, frame: ForwardFrame): boolean => {
      const bytes = packr.pack({ channel: 'forward', body: frame });
      setImmediate(() => {
        const value: unknown = packr.unpack(bytes);
        const parsed = typeof value === 'object' && value !== null && 'body' in value ? parseForwardFrame(value.body) : null;
        if (parsed !== null) peers.get(to)?.receive(from, parsed);
      });
      return true;
    },
  });
  const follower = new ForwardChannel(link('f'), () => Promise.reject(new Error('the follower runs nothing')), DEFAULT_FORWARD_LIMITS);
  const leader = new ForwardChannel(link('l'), async (_from, r) => ({ id: r.id, notRun: false, status: 201, headers: { 'content-type': 'application/json' }, body: answerBody }), DEFAULT_FORWARD_LIMITS);
  peers.set('f', follower).set('l', leader);
  const result = await measure(async () => {
    await follower.forward('l', { method: 'PUT', path: '/v1/jobs/x', headers: { 'content-type': 'application/json', host: '127.0.0.1:8400' }, body, writeId: '0123456789abcdef.1', retrySince: null });
  });
  follower.close();
  leader.close();
  return result;
}

async function http(): Promise<{ cpuUsPerWrite: number; perSecond: number }> {
  const server = createServer((req, res) => {
    req.on('data', () => undefined);
    req.on('end', () => res.writeHead(201, { 'content-type': 'application/json' }).end(answerBody));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  const port = typeof address === 'object' && address !== null ? address.port : 0;
  const agent = new Agent({ keepAlive: true, maxSockets: 256 });
  const result = await measure(() => new Promise<void>((resolve, reject) => {
    const req = request({ agent, host: '127.0.0.1', port, method: 'PUT', path: '/v1/jobs/x', headers: { 'content-type': 'application/json', 'content-length': String(body.length) } }, (res) => {
      res.on('data', () => undefined);
      res.on('end', resolve);
    });
    req.on('error', reject);
    req.end(body);
  }));
  agent.destroy();
  await new Promise((resolve) => server.close(resolve));
  return result;
}

for (let round = 0; round < Number(values.rounds); round++) {
  const ways: { name: string; run: () => Promise<{ cpuUsPerWrite: number; perSecond: number }> }[] = [{ name: 'peer channel', run: channel }, { name: 'HTTP proxy', run: http }];
  for (const { name, run } of ways) {
    const r = await run();
    console.log(`${name.padEnd(12)} writes=${WRITES} clients=${CLIENTS} cpu_us_per_write=${r.cpuUsPerWrite.toFixed(1)} writes_per_s=${r.perSecond.toFixed(0)}`);
  }
}
