// `npm run bench:write-floor [-- --seconds 8 --levels 1,16]`
// The least a replicated, synced write can cost on this machine, without Raft, validation or
// a job table: a "leader" HTTP server that, for each request, sends the body to two
// "follower" processes over TCP (one socket write each) and appends it to its own
// preallocated file with fdatasync; followers append + fdatasync and answer one byte; the
// leader answers 201 once its own fdatasync and one follower's are done (a majority of 3).
// Same load generator as bench:api. If this skeleton's p50 at 1 client is above 1 ms, no
// design of chime reaches bench:api's 1 ms target here: the floor is the machine's.
import { fork, type ChildProcess } from 'node:child_process';
import { closeSync, fdatasync, mkdtempSync, openSync, rmSync, writeSync } from 'node:fs';
import { createServer as createHttpServer } from 'node:http';
import { connect, createServer as createNetServer, type AddressInfo, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
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

function follower(dir: string): void {
  const file = new SyncedFile(join(dir, `follower-${process.pid}`));
  const server = createNetServer((socket) => {
    socket.setNoDelay(true);
    // Group commit: every frame of one read goes to disk in one write and one fdatasync.
    readFrames(socket, (frames) => file.append(Buffer.concat(frames), () => socket.write(Buffer.alloc(frames.length, 1))));
    socket.on('error', () => socket.destroy());
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
  const server = createHttpServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      const frame = Buffer.allocUnsafe(4 + body.length);
      frame.writeUInt32BE(body.length, 0);
      body.copy(frame, 4);
      let selfDone = false;
      let followersDone = 0;
      let answered = false;
      const check = () => {
        if (answered || !selfDone || followersDone < 1) return;
        answered = true;
        res.writeHead(201, { 'content-type': 'application/json' });
        res.end('{}');
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
    });
  });
  server.listen(0, '127.0.0.1', () => process.send?.((server.address() as AddressInfo).port));
  process.on('disconnect', () => process.exit(0));
}

function start(role: string[]): Promise<{ child: ChildProcess; port: number }> {
  const child = fork(fileURLToPath(import.meta.url), role);
  return new Promise((resolve, reject) => {
    child.once('message', (port) => resolve({ child, port: Number(port) }));
    child.once('exit', (code) => reject(new Error(`${role[0]} exited with ${code}`)));
  });
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { seconds: { type: 'string', default: '8' }, levels: { type: 'string', default: '1,16' } } });
  const dir = mkdtempSync(join(tmpdir(), 'chime-writefloor-'));
  const followers = await Promise.all([start(['follower', dir]), start(['follower', dir])]);
  const lead = await start(['leader', dir, ...followers.map((f) => String(f.port))]);
  const pids = [lead, ...followers].map((p) => p.child.pid ?? 0);
  const body = Buffer.from(JSON.stringify({ schedule: '@manual', description: 'x'.repeat(220) }));
  console.log(`write floor: HTTP leader + 2 followers, each write appended and fdatasync'd on the leader and both followers, answered after the leader and one follower; node ${process.version}`);
  for (const concurrency of values.levels.split(',').map(Number)) {
    const cpuBefore = cpuMs(pids);
    const r = await runLoad(concurrency, Number(values.seconds), (n) => ({ url: new URL(`http://127.0.0.1:${lead.port}/v1/jobs/w${n}`), method: 'PUT', body }));
    const cpu = cpuMs(pids) - cpuBefore;
    console.log(`floor c=${concurrency} writes/s=${r.perSecond.toFixed(0)} p50_ms=${r.p50Ms.toFixed(2)} p99_ms=${r.p99Ms.toFixed(2)} ok=${r.ok} failed=${r.failed} server_cpu_ms_per_write=${(cpu / Math.max(1, r.ok)).toFixed(2)}`);
  }
  for (const p of [lead, ...followers]) p.child.disconnect();
  rmSync(dir, { recursive: true, force: true });
}

const [role, dir, ...ports] = process.argv.slice(2);
if (role === 'follower' && dir !== undefined) follower(dir);
else if (role === 'leader' && dir !== undefined) leader(dir, ports.map(Number));
else await main();
