// Real `chime agent` processes on OS-chosen loopback ports, for process-level tests and the
// jepsen-like runner. Only processes started here are ever signalled, by pid.
import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, mkdirSync, type WriteStream } from 'node:fs';
import { createServer } from 'node:net';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createInterface } from 'node:readline';
import { httpJson, type HttpAnswer } from '../../src/cli/http-client.js';
import { waitFor } from './wait-for.js';

export { waitFor };

const MAIN = resolve(fileURLToPath(import.meta.url), '..', '..', '..', 'src', 'cli', 'main.js');
/** Loaded into agents of a cluster with `faults` on: clock skew and per-link dialing from the environment. */
const FAULT_PRELOAD = resolve(fileURLToPath(import.meta.url), '..', 'fault-preload.js');

export interface NodeProcess {
  readonly id: string;
  readonly dataDir: string;
  rpc: string;
  http: string;
  child: ChildProcess | null;
  exits: number;
}

export interface ClusterOptions {
  readonly dir: string;
  /** Extra flags for every agent. */
  readonly args?: readonly string[];
  readonly env?: Readonly<Record<string, string>>;
  /** Flags for node itself, before the script (e.g. --cpu-prof, which NODE_OPTIONS refuses). */
  readonly nodeArgs?: readonly string[];
  /** Load test/support/fault-preload into every agent, so CHIME_FAULT_* variables take effect. */
  readonly faults?: boolean;
  /** The token the helper's own calls send (a cluster founded with --admin-token-file needs one). */
  readonly token?: string;
  /** The agents serve https (--tls-cert/--tls-key); the helper trusts this CA's PEM. */
  readonly httpsCa?: string;
}

/**
 * `count` distinct ports the OS chose, for founding lists that need addresses up front.
 * All are held open until every one is chosen, so the OS cannot hand out one twice.
 */
export async function freePorts(count: number): Promise<number[]> {
  const servers = await Promise.all(
    Array.from({ length: count }, () => new Promise<ReturnType<typeof createServer>>((done, fail) => {
      const server = createServer();
      server.once('error', fail);
      server.listen(0, '127.0.0.1', () => done(server));
    })),
  );
  const ports = servers.map((s) => {
    const address = s.address();
    return typeof address === 'object' && address !== null ? address.port : 0;
  });
  await Promise.all(servers.map((s) => new Promise((done) => s.close(done))));
  return ports;
}

export class ProcessCluster {
  readonly nodes = new Map<string, NodeProcess>();
  private readonly logs = new Map<string, WriteStream>();
  /** Per-node environment given at first launch, kept for restarts (jepsen-like dial maps). */
  private readonly nodeEnv = new Map<string, Readonly<Record<string, string>>>();

  constructor(readonly options: ClusterOptions) {
    mkdirSync(options.dir, { recursive: true });
  }

  /** Founds a cluster of `count` voters with a static --peers list, as an operator would. */
  static async found(count: number, options: ClusterOptions, nodeArgs: (id: string, i: number) => readonly string[] = () => []): Promise<ProcessCluster> {
    const cluster = new ProcessCluster(options);
    try {
      const ids = Array.from({ length: count }, (_, i) => `n${i + 1}`);
      const ports = await freePorts(count * 2);
      const rpc = (i: number) => `127.0.0.1:${ports[2 * i]}`;
      const http = (i: number) => `127.0.0.1:${ports[2 * i + 1]}`;
      const peers = ids.map((id, i) => `${id}=${rpc(i)}`).join(',');
      await Promise.all(ids.map((id, i) => cluster.launch(id, rpc(i), http(i), ['--peers', peers, ...nodeArgs(id, i)])));
      await cluster.waitForLeader();
      return cluster;
    } catch (error) {
      await cluster.stopAll();
      throw error;
    }
  }

  /**
   * Grows a cluster one node at a time with every port chosen by the OS: n1 founds a
   * one-node cluster on port 0, the others join it and are promoted to voters.
   */
  static async grow(count: number, options: ClusterOptions): Promise<ProcessCluster> {
    const cluster = new ProcessCluster(options);
    try {
      await cluster.launch('n1', '127.0.0.1:0', '127.0.0.1:0', ['--peers', 'n1=127.0.0.1:0']);
      await cluster.waitForLeader();
      for (let i = 2; i <= count; i++) {
        const id = `n${i}`;
        await cluster.launch(id, '127.0.0.1:0', '127.0.0.1:0', ['--join', cluster.url('n1', '')]);
        await waitFor(`${id} to become a voter`, async () => ((await cluster.call('n1', 'GET', '/v1/cluster')).body as { members: { id: string; voter: boolean }[] }).members.some((m) => m.id === id && m.voter));
      }
      await cluster.waitForLeader();
      return cluster;
    } catch (error) {
      await cluster.stopAll();
      throw error;
    }
  }

  /** Starts an agent and resolves once it printed its listening line. */
  async launch(id: string, rpc: string, http: string, extra: readonly string[] = [], env?: Readonly<Record<string, string>>, onceEnv: Readonly<Record<string, string>> = {}): Promise<NodeProcess> {
    if (env !== undefined) this.nodeEnv.set(id, env);
    const dataDir = join(this.options.dir, id);
    mkdirSync(dataDir, { recursive: true });
    const node = this.nodes.get(id) ?? { id, dataDir, rpc, http, child: null, exits: 0 };
    this.nodes.set(id, node);
    let log = this.logs.get(id);
    if (log === undefined) {
      log = createWriteStream(join(this.options.dir, `${id}.log`), { flags: 'a' });
      this.logs.set(id, log);
    }
    const preload = this.options.faults === true ? ['--import', FAULT_PRELOAD] : [];
    const child = spawn(process.execPath, [...(this.options.nodeArgs ?? []), ...preload, MAIN, 'agent', '--id', id, '--data', dataDir, '--rpc', rpc, '--http', http, ...(this.options.args ?? []), ...extra], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, ...this.options.env, ...this.nodeEnv.get(id), ...onceEnv },
    });
    node.child = child;
    child.stderr?.pipe(log, { end: false });
    child.on('exit', () => {
      node.exits++;
      if (node.child === child) node.child = null;
    });
    const line = await new Promise<string>((done, fail) => {
      const lines = createInterface({ input: child.stdout! });
      lines.once('line', done);
      child.once('exit', (code, signal) => fail(new Error(`${id} exited (${code ?? signal}) before listening; see ${join(this.options.dir, `${id}.log`)}`)));
    });
    const listening = JSON.parse(line) as { event: string; rpc: string; http: string };
    node.rpc = listening.rpc;
    node.http = listening.http;
    return node;
  }

  url(id: string, path: string): string {
    const node = this.nodes.get(id);
    if (node === undefined) throw new Error(`no node ${id}`);
    return `${this.options.httpsCa === undefined ? 'http' : 'https'}://${node.http}${path}`;
  }

  /** A call with the cluster's token (options.token), or with `token` when given (null: none). */
  call(id: string, method: string, path: string, body?: unknown, timeoutMs = 10_000, token?: string | null): Promise<HttpAnswer> {
    return httpJson(method, this.url(id, path), body, timeoutMs, { token: token === undefined ? this.options.token ?? null : token, ca: this.options.httpsCa ?? null });
  }

  live(): NodeProcess[] {
    return [...this.nodes.values()].filter((n) => n.child !== null);
  }

  /** The leader every live node agrees on, once they do. */
  async waitForLeader(timeoutMs = 15_000): Promise<string> {
    return waitFor('a leader all live nodes agree on', async () => {
      const views = await Promise.all(this.live().map(async (n) => ((await this.call(n.id, 'GET', '/v1/cluster', undefined, 2000)).body as { leader: string | null }).leader));
      const first = views[0];
      return first !== null && first !== undefined && views.every((v) => v === first) && this.nodes.get(first)?.child !== null ? first : undefined;
    }, timeoutMs);
  }

  /** Sends a signal to a node this cluster started, by pid, and waits for exit on KILL/TERM. */
  async signal(id: string, signal: NodeJS.Signals): Promise<void> {
    const child = this.nodes.get(id)?.child;
    if (child === null || child === undefined || child.pid === undefined || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise<void>((done) => child.once('exit', () => done()));
    process.kill(child.pid, signal);
    if (signal === 'SIGKILL' || signal === 'SIGTERM' || signal === 'SIGINT') await exited;
  }

  /** Restarts a stopped node on its data directory and its previous addresses (plus `extra` flags and `onceEnv` this time). */
  async restart(id: string, extra: readonly string[] = [], onceEnv: Readonly<Record<string, string>> = {}): Promise<NodeProcess> {
    const node = this.nodes.get(id);
    if (node === undefined || node.child !== null) throw new Error(`${id} is not stopped`);
    return this.launch(id, node.rpc, node.http, extra, undefined, onceEnv);
  }

  async stopAll(signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    await Promise.all(this.live().map((n) => this.signal(n.id, signal)));
    for (const log of this.logs.values()) log.end();
  }
}
