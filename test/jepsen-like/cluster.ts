// The cluster under test: N real agents (ProcessCluster) whose every directed link runs
// through a LinkProxy the runner owns. Node A reaches node B at proxy(A→B): each agent is
// started with CHIME_FAULT_DIAL mapping, for every other node's rpc address, the proxy of its own
// outgoing link (CHIME_FAULT_DIAL, test/support/fault-preload.ts), so whatever rpc address
// the log or a hello names, A dials B through the proxy. Nodes keep their real rpc ports across restarts, and proxies look the target up at
// each connection.
import { cpSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { issueCert, makeTestCa } from '../support/certs.js';
import { ProcessCluster, freePorts, waitFor } from '../support/process-cluster.js';
import { LinkProxy, type LinkMode } from './proxy.js';

export interface JepsenClusterOptions {
  readonly dir: string;
  readonly nodes: number;
  /**
   * Access control and mutual TLS on: the cluster founded with an admin token (every call of
   * the runner carries it; a rejoin sends it with --token-file), peers on mutual TLS (one test
   * certificate naming every node, from a CA made with openssl).
   */
  readonly secure?: { readonly token: string };
}

interface ClusterView {
  leader: string | null;
  term: number;
  members: { id: string; voter: boolean }[];
}

/**
 * Ids kept in reserve for the member nemesis. A voter that was removed never comes back under
 * its id (src/node MemberDirectory.retired), so each removal brings a spare in instead; its
 * links, ports and certificate are made at start with the founders', since every agent's
 * CHIME_FAULT_DIAL map is fixed when it starts.
 */
const SPARE_IDS = 6;

export class JepsenCluster {
  /** The members now: the founders, with each removed voter replaced by the spare that took its place. */
  readonly ids: string[];
  /** Every id this run may use: the founders, then the spares. */
  readonly allIds: readonly string[];
  readonly links = new Map<string, LinkProxy>();
  /** Spare ids not used yet, with the rpc and http addresses reserved for them. */
  private readonly spares: { id: string; rpc: string; http: string }[] = [];
  /** Each id's real rpc address, reserved at start (spares' too). */
  private readonly rpcOf = new Map<string, string>();
  private constructor(readonly processes: ProcessCluster, ids: string[], allIds: string[]) {
    this.ids = ids;
    this.allIds = allIds;
  }

  static async start(options: JepsenClusterOptions): Promise<JepsenCluster> {
    const allIds = Array.from({ length: options.nodes + SPARE_IDS }, (_, i) => `n${i + 1}`);
    const ids = allIds.slice(0, options.nodes);
    const secureArgs: string[] = [];
    if (options.secure !== undefined) {
      const tokenFile = join(options.dir, 'admin.token');
      writeFileSync(tokenFile, `${options.secure.token}\n`, { mode: 0o600 });
      const pkiDir = join(options.dir, 'pki');
      const ca = makeTestCa(pkiDir, 'jepsen');
      const peer = issueCert(pkiDir, ca, 'peers', { nodeIds: allIds });
      secureArgs.push('--admin-token-file', tokenFile, '--token-file', tokenFile, '--peer-cert', peer.certPath, '--peer-key', peer.keyPath, '--peer-ca', ca.certPath);
    }
    const processes = new ProcessCluster({ dir: options.dir, faults: true, args: secureArgs, ...(options.secure === undefined ? {} : { token: options.secure.token }) });
    const cluster = new JepsenCluster(processes, ids, allIds);
    try {
      // Proxies bind first and keep their ports; the agents' ports are reserved only then,
      // so the OS cannot hand a port it just released to a proxy (EADDRINUSE at launch).
      const rpcOf = cluster.rpcOf;
      for (const from of allIds) {
        for (const to of allIds) {
          if (from === to) continue;
          const proxy = new LinkProxy(from, to, () => {
            const address = processes.nodes.get(to)?.rpc ?? rpcOf.get(to) ?? '';
            const at = address.lastIndexOf(':');
            return at < 0 ? null : { host: address.slice(0, at), port: Number(address.slice(at + 1)) };
          });
          await proxy.listen();
          cluster.links.set(`${from}>${to}`, proxy);
        }
      }
      const ports = await freePorts(allIds.length * 2);
      allIds.forEach((id, i) => rpcOf.set(id, `127.0.0.1:${ports[2 * i]}`));
      for (const [i, id] of allIds.entries()) if (i >= ids.length) cluster.spares.push({ id, rpc: rpcOf.get(id) as string, http: `127.0.0.1:${ports[2 * i + 1]}` });
      const peers = ids.map((id) => `${id}=${rpcOf.get(id)}`).join(',');
      await Promise.all(ids.map((id, i) => processes.launch(id, rpcOf.get(id) as string, `127.0.0.1:${ports[2 * i + 1]}`, ['--peers', peers], { CHIME_FAULT_DIAL: cluster.dialMap(id) })));
      await cluster.waitForLeader(30_000);
      return cluster;
    } catch (error) {
      await cluster.stop();
      throw error;
    }
  }

  /** For every other node: its real rpc address → the proxy of the link from `from` to it. */
  private dialMap(from: string): string {
    return this.allIds.filter((to) => to !== from).map((to) => `${this.rpcOf.get(to) ?? ''}=${this.link(from, to).address}`).join(',');
  }

  link(from: string, to: string): LinkProxy {
    const proxy = this.links.get(`${from}>${to}`);
    if (proxy === undefined) throw new Error(`no link ${from}>${to}`);
    return proxy;
  }

  /** Sets the mode of every link from a node in `from` to a node in `to`. */
  setLinks(from: readonly string[], to: readonly string[], mode: LinkMode): void {
    for (const a of from) for (const b of to) if (a !== b) this.link(a, b).setMode(mode);
  }

  healLinks(): void {
    for (const proxy of this.links.values()) proxy.setMode({ kind: 'up' });
  }

  isUp(id: string): boolean {
    return this.processes.nodes.get(id)?.child !== null;
  }

  liveIds(): string[] {
    return this.ids.filter((id) => this.isUp(id));
  }

  httpOf(id: string): string {
    return this.processes.url(id, '');
  }

  async view(id: string, timeoutMs = 1500): Promise<ClusterView | null> {
    try {
      const answer = await this.processes.call(id, 'GET', '/v1/cluster', undefined, timeoutMs);
      return answer.status === 200 ? (answer.body as ClusterView) : null;
    } catch {
      return null;
    }
  }

  /** The leader a majority of all nodes names in the newest term any of them reports. */
  async leader(): Promise<string | null> {
    const views = (await Promise.all(this.liveIds().map((id) => this.view(id)))).filter((v): v is ClusterView => v !== null);
    const votes = new Map<string, number>();
    for (const v of views) if (v.leader !== null) votes.set(v.leader, (votes.get(v.leader) ?? 0) + 1);
    for (const [id, n] of votes) if (n > this.ids.length / 2 && this.isUp(id)) return id;
    return null;
  }

  waitForLeader(timeoutMs = 30_000): Promise<string> {
    return waitFor('a leader a majority agrees on', async () => (await this.leader()) ?? undefined, timeoutMs, 100);
  }

  async kill(id: string): Promise<void> {
    await this.processes.signal(id, 'SIGKILL');
  }

  async pause(id: string): Promise<void> {
    await this.processes.signal(id, 'SIGSTOP');
  }

  async resume(id: string): Promise<void> {
    await this.processes.signal(id, 'SIGCONT');
  }

  async restart(id: string, extra: readonly string[] = [], onceEnv: Readonly<Record<string, string>> = {}): Promise<void> {
    if (this.isUp(id)) return;
    await this.processes.restart(id, extra, onceEnv);
  }

  /** Copies a running node's data directory (writes in flight), kills it, and restarts it on the copy. */
  async restartOnCopy(id: string): Promise<void> {
    const node = this.processes.nodes.get(id);
    if (node === undefined || node.child === null) return;
    const copy = `${node.dataDir}.copy`;
    rmSync(copy, { recursive: true, force: true });
    cpSync(node.dataDir, copy, { recursive: true });
    await this.kill(id);
    rmSync(node.dataDir, { recursive: true, force: true });
    cpSync(copy, node.dataDir, { recursive: true });
    rmSync(copy, { recursive: true, force: true });
    await this.restart(id);
  }

  /** Spare ids left for `replace`. */
  sparesLeft(): number {
    return this.spares.length;
  }

  /**
   * Removes `id` through the leader's API, kills it and wipes its data, and has a spare join
   * empty in its place (a removed voter's id is never a member again); returns the spare's id.
   */
  async replace(id: string, log: (s: string) => void): Promise<string> {
    const spare = this.spares.shift();
    if (spare === undefined) throw new Error('no spare id left');
    // Leadership may move between finding the leader and its proposing the removal, as an
    // operator would see it: a refusal that says the removal did not run (NOT_LEADER,
    // NO_LEADER, CONF_CHANGE_PENDING) is asked again; after an answer that says its outcome is
    // unknown, a "not a member" answer means the earlier try took effect. "Not a member"
    // after nothing but refusals is a wrong answer somewhere, and fails the run.
    const deadline = Date.now() + 30_000;
    let mayHaveRun = false;
    for (;;) {
      const leader = await this.waitForLeader();
      if (leader === id) {
        // It was picked as a follower and has been elected since: as an operator would, ask it
        // to hand leadership on first, then remove it as a follower.
        if (Date.now() > deadline) throw new Error(`removing ${id}: it still leads`);
        log(`removing ${id}: it leads now, asking it to hand leadership on`);
        await this.processes.call(leader, 'POST', '/v1/cluster/transfer-leader', {}, 10_000);
        await waitFor(`a leader other than ${id}`, async () => (await this.waitForLeader()) !== id, 20_000, 200);
        continue;
      }
      // Longer than the node's own 10 s proposal timeout, so its 504 comes first.
      const removed = await this.processes.call(leader, 'DELETE', `/v1/cluster/members/${id}`, undefined, 20_000);
      if (removed.status === 204) break;
      const code = (removed.body as { code?: unknown } | null)?.code;
      if (mayHaveRun && removed.status === 404 && code === 'MEMBER_NOT_FOUND') {
        log(`removing ${id}: not a member, so the earlier try took effect`);
        break;
      }
      // A membership change the leader has not applied yet (a join's promotion, say) makes it
      // refuse the next one until it has: also "not run", asked again.
      const refused = (removed.status === 503 && (code === 'NOT_LEADER' || code === 'NO_LEADER')) || (removed.status === 409 && code === 'CONF_CHANGE_PENDING');
      const unknown = (removed.status === 503 && (code === 'LEADERSHIP_LOST' || code === 'OUTCOME_UNKNOWN')) || (removed.status === 504 && code === 'TIMEOUT');
      if ((!refused && !unknown) || Date.now() > deadline) throw new Error(`removing ${id}: ${removed.status} ${removed.text}`);
      mayHaveRun ||= unknown;
      log(`removing ${id}: ${String(code)}, asking again`);
      // A refusal comes at once; the leader's state needs a moment to move on.
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
    log(`${id} removed`);
    await this.kill(id);
    const node = this.processes.nodes.get(id);
    if (node === undefined) throw new Error(`no node ${id}`);
    rmSync(node.dataDir, { recursive: true, force: true });
    const via = this.processes.url(await this.waitForLeader(), '');
    await this.processes.launch(spare.id, spare.rpc, spare.http, ['--join', via], { CHIME_FAULT_DIAL: this.dialMap(spare.id) });
    // Clients pick from `ids`: the spare enters it only once it has a process to call.
    this.ids.splice(this.ids.indexOf(id), 1, spare.id);
    log(`${spare.id} joins in ${id}'s place`);
    await waitFor(`${spare.id} to be a voter`, async () => {
      const view = await this.view(await this.waitForLeader(5000));
      return view?.members.some((m) => m.id === spare.id && m.voter) === true;
    }, 60_000, 200);
    return spare.id;
  }

  async stop(): Promise<void> {
    for (const id of this.ids) await this.resume(id).catch(() => {});
    await this.processes.stopAll('SIGKILL');
    await Promise.all([...this.links.values()].map((p) => p.close()));
  }
}
