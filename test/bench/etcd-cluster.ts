// A 3-member etcd cluster on loopback for comparison benches, started the way the chime
// bench starts its nodes: one process per member, data under a temp dir, OS-chosen ports.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createWriteStream, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { httpJson } from '../../src/cli/http-client.js';
import { freePorts, waitFor } from '../support/process-cluster.js';

export interface EtcdMember {
  readonly name: string;
  readonly clientUrl: string;
  readonly child: ChildProcess;
}

/** The etcd binary's version line, or null when it is not installed. */
export function etcdVersion(): string | null {
  const probe = spawnSync('etcd', ['--version'], { encoding: 'utf8' });
  if (probe.error !== undefined || probe.status !== 0) return null;
  return probe.stdout.split('\n')[0] ?? 'etcd';
}

export class EtcdCluster {
  private constructor(readonly members: readonly EtcdMember[]) {}

  static async start(dir: string, count = 3): Promise<EtcdCluster> {
    const ports = await freePorts(count * 2);
    const names = Array.from({ length: count }, (_, i) => `e${i + 1}`);
    const peerUrl = (i: number) => `http://127.0.0.1:${ports[2 * i + 1]}`;
    const initial = names.map((n, i) => `${n}=${peerUrl(i)}`).join(',');
    const members = names.map((name, i) => {
      const clientUrl = `http://127.0.0.1:${ports[2 * i]}`;
      const dataDir = join(dir, name);
      mkdirSync(dataDir, { recursive: true });
      const child = spawn('etcd', [
        '--name', name, '--data-dir', dataDir,
        '--listen-client-urls', clientUrl, '--advertise-client-urls', clientUrl,
        '--listen-peer-urls', peerUrl(i), '--initial-advertise-peer-urls', peerUrl(i),
        '--initial-cluster', initial, '--initial-cluster-state', 'new', '--initial-cluster-token', 'chime-bench',
        '--log-level', 'warn',
      ], { stdio: ['ignore', 'ignore', 'pipe'] });
      child.stderr?.pipe(createWriteStream(join(dir, `${name}.log`)));
      return { name, clientUrl, child };
    });
    const cluster = new EtcdCluster(members);
    try {
      await waitFor('etcd to elect a leader', async () => (await cluster.leader()) ?? undefined, 30_000, 100);
    } catch (error) {
      cluster.stop();
      throw error;
    }
    return cluster;
  }

  /** The client URL of the member that reports itself leader, or null. */
  async leader(): Promise<string | null> {
    for (const m of this.members) {
      const answer = await httpJson('POST', `${m.clientUrl}/v3/maintenance/status`, {}, 2000).catch(() => null);
      const body = answer?.body as { header?: { member_id?: string }; leader?: string } | null | undefined;
      if (body?.leader !== undefined && body.leader === body.header?.member_id) return m.clientUrl;
    }
    return null;
  }

  /** Kills only the processes this cluster started, by pid. */
  stop(): void {
    for (const m of this.members) if (m.child.pid !== undefined && m.child.exitCode === null) process.kill(m.child.pid, 'SIGKILL');
  }
}
