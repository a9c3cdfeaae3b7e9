import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Agent, skewedClock } from '../agent/agent.js';
import { JobStateMachine } from '../agent/job-state.js';
import { ExecutionPlane } from '../agent/execution.js';
import { jsonLogger, type Logger } from '../agent/logger.js';
import { openNodeStore } from '../agent/node-store.js';
import { openPeerTransport, isLoopbackHost, transportMetricLines } from '../agent/peer-transport.js';
import { DEVELOPMENT_CLUSTER_KEY } from '../rpc/index.js';
import { ApiServer, splitHostPort } from '../api/server.js';
import { clusterRoutes } from '../api/routes-cluster.js';
import { jobRoutes } from '../api/routes-jobs.js';
import { runRoutes } from '../api/routes-runs.js';
import { consoleRoutes } from '../api/console.js';
import { AGENT_HELP, parseAgentConfig, type AgentConfig } from './agent-config.js';
import { httpJson, problemLine } from './http-client.js';
import { UsageError } from './usage.js';

const SHUTDOWN_DEADLINE_MS = 10_000;

function clusterKey(config: AgentConfig): Uint8Array {
  if (config.clusterKeyFile !== null) {
    let key: string;
    try {
      key = readFileSync(config.clusterKeyFile, 'utf8').trim();
    } catch (error) {
      throw new UsageError(`--cluster-key-file: cannot read ${config.clusterKeyFile}: ${(error as Error).message}`);
    }
    if (key.length < 16) throw new UsageError('--cluster-key-file: the key must be at least 16 characters');
    return new TextEncoder().encode(key);
  }
  for (const [flag, address] of [['rpc', config.rpc], ['http', config.http]] as const) {
    const [host] = splitHostPort(address);
    if (!isLoopbackHost(host)) throw new UsageError(`--${flag} ${address} is not a loopback address; without --cluster-key-file the node listens on loopback only`);
  }
  return DEVELOPMENT_CLUSTER_KEY;
}

/** Asks the cluster at `url` to add this node, retrying while it has no leader. */
async function joinCluster(url: string, body: { id: string; rpc: string; http: string }, logger: Logger): Promise<void> {
  const deadline = performance.now() + 60_000;
  for (let attempt = 1; ; attempt++) {
    try {
      const answer = await httpJson('POST', new URL('/v1/cluster/members', url).toString(), body, 10_000);
      if (answer.status < 300) {
        logger.info('join accepted', { via: url });
        return;
      }
      if (answer.status < 500) {
        logger.error('join refused', { via: url, reason: problemLine(answer) });
        return;
      }
      logger.warn('join not accepted yet', { via: url, reason: problemLine(answer), attempt });
    } catch (error) {
      logger.warn('join request failed', { via: url, error: String(error), attempt });
    }
    if (performance.now() > deadline) {
      logger.error('gave up joining', { via: url });
      return;
    }
    await new Promise((r) => setTimeout(r, Math.min(2000, 100 * 2 ** attempt)));
  }
}

export async function agentCommand(args: string[], out: (s: string) => void): Promise<void> {
  const config = parseAgentConfig(args);
  if (config === 'help') return out(AGENT_HELP);
  const key = clusterKey(config);
  const logger = jsonLogger(config.id, 'agent', (line) => void process.stderr.write(line), config.logLevel);
  mkdirSync(config.dataDir, { recursive: true });
  const store = await openNodeStore(join(config.dataDir, 'raft'));
  const api = new ApiServer({ logger: logger.child('api') });
  const [httpHost, httpPort] = splitHostPort(config.http);
  const http = await api.listen(httpHost, httpPort);
  let agent: Agent | null = null;
  const transport = await openPeerTransport({
    id: config.id,
    listen: config.rpc,
    clusterKey: key,
    clusterId: 'chime',
    logger: logger.child('rpc'),
    receive: (from, envelope) => agent?.receive(from, envelope),
    unreachable: (peer) => agent?.unreachable(peer),
    dialMap: config.dialMap,
  });
  const rpc = transport.address;
  // A founding list may name this node with port 0: it stands for the port just bound.
  const peers = config.peers === null ? null : new Map([...config.peers].map(([id, address]) => [id, id === config.id ? rpc : address]));
  const jobs = new JobStateMachine();
  const wasEmpty = store.lastIndex() === 0 && store.snapshotInfo().meta.index === 0;
  agent = await Agent.start({ id: config.id, store, stateMachine: jobs, transport, address: { rpc, http }, peers, timing: { tickMs: 10, heartbeatMs: config.heartbeatMs, electionMs: config.electionMs }, logger, snapshotEntries: config.snapshotEntries, clock: skewedClock(config.clockOffsetMs, config.clockRate), unsafeStaleReads: config.unsafeStaleReads });
  const running = agent;
  const plane = new ExecutionPlane(
    {
      id: config.id,
      now: () => running.now(),
      leaderId: () => running.leaderId(),
      isLeader: () => running.isLeader(),
      term: () => running.term(),
      members: () => running.members(),
      propose: (data) => running.propose(data),
      linearizableRead: () => running.linearizableRead(),
      send: (to, envelope) => running.send(to, envelope),
    },
    jobs,
    { slots: config.slots, tags: config.tags, journalPath: join(config.dataDir, 'executor.journal'), logger: logger.child('execution') },
  );
  agent.extend({ receive: (from, envelope) => plane.receive(from, envelope), leadershipChanged: () => plane.leadershipChanged(), stop: () => plane.stop() });
  plane.start();
  agent.metrics.sources.push(() => plane.metricLines(), () => transportMetricLines(transport.tcp.metrics));
  api.attach(agent, [...clusterRoutes(agent), ...jobRoutes(agent, jobs), ...runRoutes(agent, jobs, () => plane.activeScheduler()), ...consoleRoutes()]);
  out(JSON.stringify({ event: 'listening', id: config.id, rpc, http }) + '\n');
  logger.info('agent started', { rpc, http, data: config.dataDir, recovered: !wasEmpty });
  if (config.clockOffsetMs !== 0 || config.clockRate !== 1 || config.unsafeStaleReads || config.dialMap !== null) logger.warn('test hooks active', { clockOffsetMs: config.clockOffsetMs, clockRate: config.clockRate, unsafeStaleReads: config.unsafeStaleReads, dialMap: config.dialMap === null ? null : Object.fromEntries(config.dialMap) });
  if (config.join !== null && wasEmpty) void joinCluster(config.join, { id: config.id, rpc, http }, logger);

  await new Promise<void>((resolve) => {
    let stopping = false;
    const shutdown = (signal: string) => {
      if (stopping) return;
      stopping = true;
      logger.info('shutting down', { signal });
      setTimeout(() => {
        logger.error('shutdown deadline passed; exiting');
        process.exit(1);
      }, SHUTDOWN_DEADLINE_MS).unref();
      void (async () => {
        await agent?.stop();
        await api.close();
        await store.close();
        logger.info('stopped');
        resolve();
      })();
    };
    process.once('SIGTERM', () => shutdown('SIGTERM'));
    process.once('SIGINT', () => shutdown('SIGINT'));
  });
}
