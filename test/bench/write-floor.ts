// `npm run bench:write-floor [-- --seconds 8 --levels 1,16]`
// The least a replicated, synced write can cost on this machine, without Raft, validation or
// a job table: a "leader" HTTP server that, for each request, sends the body to two
// "follower" processes over TCP (one socket write each) and appends it to its own
// preallocated file with fdatasync; followers append + fdatasync and answer one byte; the
// leader answers 201 once its own fdatasync and one follower's are done (a majority of 3).
// Same load generator as bench:api. If this skeleton's p50 at 1 client is above 1 ms, no
// design of chime reaches bench:api's 1 ms target here: the floor is the machine's.
// Through a follower (`--targets leader,follower`): the first follower also serves HTTP and
// sends each request's body to the leader over one TCP connection (id + body, one socket
// write), the leader replicates it as above and sends the id back once a majority has it on
// disk, and the follower answers its client: the least the forward hop of chime's follower
// path can cost here.
import { fork, type ChildProcess } from 'node:child_process';
import { closeSync, fdatasync, mkdtempSync, openSync, rmSync, writeSync } from 'node:fs';
import { createServer as createHttpServer } from 'node:http';
import { connect, createServer as createNetServer, type AddressInfo, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { cliArgs } from '../support/cli-args.js';
import { cpuMs, runLoad } from './http-load.js';

const FILE_BYTES = 64 * 2 ** 20;
const FRAME_BYTES_MAX = 1 << 20;

/** A preallocated file written in a ring: the disk sees what a WAL on preallocated space sees. */
class SyncedFile {
  private readonly fd: number;
  private offset = 0;

  constructor(path: string) {
    this.fd = openSync(path, 'w+');
    const zeros = Buffer.alloc(1 << 20);
    for (let i = 0; i < FILE_BYTES / zeros.length; i++) writeSync(this.fd, zeros);
  }

  append(bytes: Buffer, done: () => void): void {
    if (this.offset + bytes.length > FILE_BYTES) this.offset = 0;
    writeSync(this.fd, bytes, 0, bytes.length, this.offset);
    this.offset += bytes.length;
    fdatasync(this.fd, (error) => {
      if (error !== null) throw error;
      done();
    });
  }

  close(): void {
    closeSync(this.fd);
  }
}

/** Frames are u32 length + bytes; calls `onFrames` with every whole frame of a chunk at once. */
function readFrames(socket: Socket, onFrames: (frames: Buffer[]) => void): void {
  let pending: Buffer = Buffer.alloc(0);
  socket.on('data', (chunk: Buffer) => {
    pending = pending.length === 0 ? chunk : Buffer.concat([pending, chunk]);
    const frames: Buffer[] = [];
    while (pending.length >= 4) {
      const length = pending.readUInt32BE(0);
      if (length > FRAME_BYTES_MAX) {
        socket.destroy();
        return;
      }
      if (pending.length < 4 + length) break;
      frames.push(pending.subarray(4, 4 + length));
      pending = pending.subarray(4 + length);
    }
    if (frames.length > 0) onFrames(frames);
  });
}

function frameOf(body: Buffer, id?: number): Buffer {
  const head = id === undefined ? 4 : 8;
  const frame = Buffer.allocUnsafe(head + body.length);
  frame.writeUInt32BE(body.length + head - 4, 0);
  if (id !== undefined) frame.writeUInt32BE(id, 4);
  body.copy(frame, head);
  return frame;
}

function follower(dir: string): void {
  const file = new SyncedFile(join(dir, `follower-${process.pid}`));
  const server = createNetServer((socket) => {
    socket.setNoDelay(true);
    // Group commit: every frame of one read goes to disk in one write and one fdatasync.
    readFrames(socket, (frames) => file.append(Buffer.concat(frames), () => socket.write(Buffer.alloc(frames.length, 1))));
    socket.on('error', () => socket.destroy());
  });
  // Clients of this follower: each body goes to the leader's forward port, answered by id.
  const waiting = new Map<number, () => void>();
  let nextId = 1;
  let toLeader: Socket | null = null;
  const http = createHttpServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const id = nextId++;
      waiting.set(id, () => {
        res.writeHead(201, { 'content-type': 'application/json' });
        res.end('{}');
      });
      toLeader?.write(frameOf(Buffer.concat(chunks), id));
    });
  });
  process.on('message', (message) => {
    if (typeof message !== 'object' || message === null || !('forwardPort' in message)) return;
    toLeader = connect(Number(message.forwardPort), '127.0.0.1');
    toLeader.setNoDelay(true);
    readFrames(toLeader, (frames) => {
      for (const frame of frames) {
        const id = frame.readUInt32BE(0);
        waiting.get(id)?.();
        waiting.delete(id);
      }
    });
    http.listen(0, '127.0.0.1', () => process.send?.({ httpPort: (http.address() as AddressInfo).port }));
  });
  server.listen(0, '127.0.0.1', () => process.send?.((server.address() as AddressInfo).port));
  process.on('disconnect', () => process.exit(0));
}

function leader(dir: string, followerPorts: number[]): void {
  const file = new SyncedFile(join(dir, 'leader'));
  // Each follower acknowledges frames in the order they were sent.
  const waiting = followerPorts.map(() => [] as (() => void)[]);
  const sockets = followerPorts.map((port, i) => {
    const socket = connect(port, '127.0.0.1');
    socket.setNoDelay(true);
    socket.on('data', (acks: Buffer) => {
      for (let k = 0; k < acks.length; k++) waiting[i]?.shift()?.();
    });
    return socket;
  });
  /** Replicates one body; `done` once the leader and one follower have it on disk. */
  const replicate = (body: Buffer, done: () => void): void => {
    const frame = frameOf(body);
    let selfDone = false;
    let followersDone = 0;
    let answered = false;
    const check = () => {
      if (answered || !selfDone || followersDone < 1) return;
      answered = true;
      done();
    };
    sockets.forEach((socket, i) => {
      waiting[i]?.push(() => {
        followersDone++;
        check();
      });
      socket.write(frame);
    });
    file.append(frame, () => {
      selfDone = true;
      check();
    });
  };
  const server = createHttpServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => replicate(Buffer.concat(chunks), () => {
      res.writeHead(201, { 'content-type': 'application/json' });
      res.end('{}');
    }));
  });
  // Bodies a follower's clients sent: [id][body] in, [id] back once replicated.
  const forwards = createNetServer((socket) => {
    socket.setNoDelay(true);
    readFrames(socket, (frames) => {
      for (const frame of frames) {
        const id = frame.readUInt32BE(0);
        replicate(frame.subarray(4), () => {
          const answer = Buffer.allocUnsafe(8);
          answer.writeUInt32BE(4, 0);
          answer.writeUInt32BE(id, 4);
          socket.write(answer);
        });
      }
    });
    socket.on('error', () => socket.destroy());
  });
  forwards.listen(0, '127.0.0.1', () => {
    server.listen(0, '127.0.0.1', () => process.send?.({ port: (server.address() as AddressInfo).port, forwardPort: (forwards.address() as AddressInfo).port }));
  });
  process.on('disconnect', () => process.exit(0));
}

function start(role: string[]): Promise<{ child: ChildProcess; message: unknown }> {
  const child = fork(fileURLToPath(import.meta.url), role);
  return new Promise((resolve, reject) => {
    child.once('message', (message) => resolve({ child, message }));
    child.once('exit', (code) => reject(new Error(`${role[0]} exited with ${code}`)));
  });
}

function field(message: unknown, name: string): number {
  const value: unknown = typeof message === 'object' && message !== null ? Reflect.get(message, name) : undefined;
  if (typeof value !== 'number') throw new Error(`expected ${name} from a child, got ${JSON.stringify(message)}`);
  return value;
}

async function main(): Promise<void> {
  const { values } = cliArgs('npm run bench:write-floor --', { options: { seconds: { type: 'string', default: '8' }, levels: { type: 'string', default: '1,16' }, targets: { type: 'string', default: 'leader' } } });
  const dir = mkdtempSync(join(tmpdir(), 'chime-writefloor-'));
  const followers = await Promise.all([start(['follower', dir]), start(['follower', dir])]);
  const lead = await start(['leader', dir, ...followers.map((f) => String(f.message))]);
  const leaderPort = field(lead.message, 'port');
  const [via] = followers;
  if (via === undefined) throw new Error('no follower');
  const viaPort = new Promise<number>((resolve) => via.child.once('message', (message) => resolve(field(message, 'httpPort'))));
  via.child.send({ forwardPort: field(lead.message, 'forwardPort') });
  const followerPort = await viaPort;
  const pids = [lead, ...followers].map((p) => p.child.pid ?? 0);
  const body = Buffer.from(JSON.stringify({ schedule: '@manual', description: 'x'.repeat(220) }));
  console.log(`write floor: HTTP leader + 2 followers, each write appended and fdatasync'd on the leader and both followers, answered after the leader and one follower; node ${process.version}`);
  for (const concurrency of values.levels.split(',').map(Number)) {
    for (const target of values.targets.split(',')) {
      const port = target === 'follower' ? followerPort : leaderPort;
      const cpuBefore = cpuMs(pids);
      const r = await runLoad(concurrency, Number(values.seconds), (n) => ({ url: new URL(`http://127.0.0.1:${port}/v1/jobs/w${n}`), method: 'PUT', body }));
      const cpu = cpuMs(pids) - cpuBefore;
      console.log(`floor target=${target} c=${concurrency} writes/s=${r.perSecond.toFixed(0)} p50_ms=${r.p50Ms.toFixed(2)} p99_ms=${r.p99Ms.toFixed(2)} ok=${r.ok} failed=${r.failed} server_cpu_ms_per_write=${(cpu / Math.max(1, r.ok)).toFixed(2)}`);
    }
  }
  for (const p of [lead, ...followers]) p.child.disconnect();
  rmSync(dir, { recursive: true, force: true });
}

const [role, dir, ...ports] = process.argv.slice(2);
if (role === 'follower' && dir !== undefined) follower(dir);
else if (role === 'leader' && dir !== undefined) leader(dir, ports.map(Number));
else await main();
