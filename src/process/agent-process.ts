// The wiring of one `chime agent` process: builds storage, transport, node runtime, execution
// plane, metrics and API from the config; starts them in order; stops them in reverse.
import { randomInt } from 'node:crypto';
import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ApiServer, applyRoutes, backupRoutes, clusterRoutes, consoleRoutes, jobRoutes, parseForwardFrame, runRoutes, scheduleRoutes, splitHostPort, type LeaderGate } from '../api/index.js';
import { ExecutionPlane, type ExecutionNode } from '../execution/index.js';
import { jsonLogger, type Logger } from '../log/index.js';
import { NodeRuntime, bootstrapFromImage, bootstrapLog, isEmptyStore, parsePeerHello, type PeerLink } from '../node/index.js';
import type { NodeId } from '../raft/index.js';
import { TcpTransport, type Envelope } from '../rpc/index.js';
import { ReplicatedJobs, type ApplyResult, type Command } from '../statemachine/index.js';
import { DurableStorage } from '../storage/index.js';
import { logStoreOf, realClock } from './adapters.js';
import { decodeBackup, type Backup } from './backup.js';
import { ChimeError } from '../errors/index.js';
import { readBundledAsset } from './bundled-assets.js';
import type { AgentConfig } from './config.js';
import { joinCluster } from './join.js';
import { ProcessMetrics } from './metrics.js';
import { WriteTracer } from './trace.js';
import { backupServiceOf, clusterServiceOf, jobServiceOf, readBarrierOf, runServiceOf } from './services.js';

/** How long a leader waits for its hand-off before it stops anyway. */
const HAND_OFF_DEADLINE_MS = 3000;
/** How long a stopping node waits for the writes it holds or forwarded to be answered. */
const DRAIN_DEADLINE_MS = 3000;
const CLUSTER_ID = 'chime';

export interface AgentSecrets {
  /** The shared secret peers prove to each other. */
  readonly clusterKey: Uint8Array;
}

export interface RunningAgent {
  readonly rpc: string;
  readonly http: string;
  readonly logger: Logger;
  /** Hands leadership on, stops taking API connections and lets the writes it forwarded be answered, stops scheduling and local runs, then the node, the transport, the API and the disk. */
  stop(): Promise<void>;
}

export async function startAgent(config: AgentConfig, secrets: AgentSecrets, out: (line: string) => void): Promise<RunningAgent> {
  const logger = jsonLogger(config.id, 'agent', (line) => void process.stderr.write(line), config.logLevel);
  // A backup to found from is checked before anything opens: a bad file changes nothing.
  const backup = config.restore === null ? null : readBackup(config.restore);
  mkdirSync(config.dataDir, { recursive: true });
  const storage = await DurableStorage.open(join(config.dataDir, 'raft'));
  const store = logStoreOf(storage);
  const metrics = new ProcessMetrics();
  const tracer = process.env['CHIME_TRACE'] === '1' ? new WriteTracer((text) => void process.stderr.write(text)) : null;
  const api = new ApiServer({ logger: logger.child('api'), observer: metrics.requests, ...(tracer === null ? {} : { trace: (stage) => tracer.mark(stage) }) });
  const [httpHost, httpPort] = splitHostPort(config.http);
  const http = await api.listen(httpHost, httpPort);

  // The transport delivers from the moment it listens; node and plane exist a moment later.
  let node: NodeRuntime<Command, ApplyResult> | null = null;
  let plane: ExecutionPlane | null = null;
  const rpcLogger = logger.child('rpc');
  const tcp = new TcpTransport({
    id: config.id,
    clusterId: CLUSTER_ID,
    key: secrets.clusterKey,
    onMessage: (from, envelope) => deliver(from, envelope),
    onUnreachable: (peer) => {
      node?.reportUnreachable(peer);
      api.peerLost(peer);
    },
    log: (level, msg, fields) => rpcLogger[level](msg, fields),
  });
  const deliver = (from: NodeId, envelope: Envelope): void => {
    switch (envelope.channel) {
      case 'raft':
        node?.receive(from, envelope);
        return;
      case 'hello': {
        const hello = parsePeerHello(envelope.body);
        if (hello !== null) node?.receive(from, { channel: 'hello', body: hello });
        return;
      }
      case 'exec':
      case 'report':
        plane?.receive(from, envelope.channel, envelope.body);
        return;
      case 'forward': {
        const frame = parseForwardFrame(envelope.body);
        if (frame === null) rpcLogger.warn('ignored a malformed forward frame', { peer: from });
        else api.receiveForward(from, frame);
        return;
      }
    }
  };
  // Port 0 (let the OS choose) is not a port parseHostPort accepts for dialing.
  const [rpcHost, rpcPort] = splitHostPort(config.rpc);
  const bound = await tcp.listen(rpcHost, rpcPort);
  const rpc = `${bound.host.includes(':') ? `[${bound.host}]` : bound.host}:${bound.port}`;

  const wasEmpty = isEmptyStore(store);
  if (config.restore !== null && !wasEmpty) throw new ChimeError('INVALID_REQUEST', `--restore founds a new cluster, but ${config.dataDir} already holds one; give it an empty data directory`);
  if (wasEmpty && config.peers !== null) {
    // A founding list may name this node with port 0: it stands for the port just bound.
    const voters = new Map([...config.peers].map(([id, address]) => [id, id === config.id ? rpc : address]));
    if (backup === null) await bootstrapLog(store, voters);
    else {
      await bootstrapFromImage(store, voters, backup.image, backup.index);
      logger.info('founded from a backup', { file: config.restore, index: backup.index, made: new Date(backup.createdAtMs).toISOString(), by: backup.node });
    }
  }
  const jobs = new ReplicatedJobs((command, result) => plane?.onApplied(command, result));
  const link: PeerLink = { send: (to, envelope) => void tcp.send(to, envelope), setPeers: (peers) => tcp.setPeers(peers) };
  const running = new NodeRuntime<Command, ApplyResult>({
    id: config.id,
    store,
    stateMachine: jobs,
    link,
    clock: realClock,
    randomInt: (max) => randomInt(max),
    address: { rpc, http },
    initialSnapshot: await storage.loadSnapshot(),
    timing: { tickMs: 10, heartbeatMs: config.heartbeatMs, electionMs: config.electionMs },
    limits: { snapshotEntries: config.snapshotEntries },
    events: tracer === null ? metrics.nodeEvents : { ...metrics.nodeEvents, trace: (stage, index) => tracer.mark(stage, index) },
    listener: {
      leadershipChanged: () => {
        plane?.leadershipChanged();
        api.leaderChanged();
      },
    },
  });
  node = running;
  const executionNode: ExecutionNode = {
    id: config.id,
    wallNowMs: () => Date.now(),
    leader: () => running.leader(),
    isLeader: () => running.isLeader(),
    term: () => running.term(),
    members: () => running.members(),
    propose: (command) => running.propose(command),
    read: () => running.read(),
    table: () => jobs.table,
    send: (to, envelope) => void tcp.send(to, envelope),
  };
  const execution = new ExecutionPlane(executionNode, {
    slots: config.slots,
    tags: config.tags,
    journalPath: join(config.dataDir, 'executor.journal'),
    logger: logger.child('execution'),
    startLateness: (lateMs) => metrics.observeStartLateness(lateMs),
  });
  plane = execution;
  running.start();
  execution.start();
  metrics.bind(running, execution, tcp.metrics);

  const gate: LeaderGate = { nodeId: config.id, isLeader: () => running.isLeader(), leader: () => running.leader(), leaderHttp: () => running.leaderHttp() };
  const jobService = jobServiceOf(running, () => jobs.table, () => Date.now(), tracer === null ? undefined : (stage) => tracer.mark(stage));
  const barrier = readBarrierOf(running);
  api.serve(gate, [
    ...clusterRoutes(clusterServiceOf(running), gate, { render: () => metrics.render() }),
    ...jobRoutes(jobService, barrier),
    ...applyRoutes(jobService),
    ...backupRoutes(backupServiceOf(running, jobs, () => Date.now())),
    ...runRoutes(runServiceOf(execution), jobService, barrier),
    ...scheduleRoutes(jobService, barrier, () => Date.now()),
    ...consoleRoutes((name) => readBundledAsset(name) ?? null),
  ], {
    send: (to, frame) => tcp.send(to, { channel: 'forward', body: frame }),
    reachable: (peer) => tcp.connected(peer),
  });
  metrics.bindForwarding(() => api.forwardStats());
  out(JSON.stringify({ event: 'listening', id: config.id, rpc, http }) + '\n');
  logger.info('agent started', { rpc, http, data: config.dataDir, recovered: !wasEmpty });
  if (config.join !== null && wasEmpty) void joinCluster(config.join, { id: config.id, rpc, http }, logger);

  let stopped: Promise<void> | null = null;
  const stop = async (): Promise<void> => {
    await running.handOffLeadership(HAND_OFF_DEADLINE_MS);
    await api.drain(DRAIN_DEADLINE_MS);
    await execution.stop();
    await running.stop();
    await tcp.close();
    await api.close();
    await storage.close();
    tracer?.stop();
  };
  return { rpc, http, logger, stop: () => (stopped ??= stop()) };
}

function readBackup(path: string): Backup {
  let bytes: Buffer;
  try {
    bytes = readFileSync(path);
  } catch (error) {
    throw new ChimeError('INVALID_REQUEST', `--restore: cannot read ${path}: ${error instanceof Error ? error.message : String(error)}`);
  }
  return decodeBackup(bytes);
}
