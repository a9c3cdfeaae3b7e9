// The wiring of one `chime agent` process: builds storage, transport, node runtime, execution
// plane, metrics and API from the config; starts them in order; stops them in reverse.
import { randomInt } from 'node:crypto';
import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { bootstrapTokenCommand, nodeOriginsOf, type SecretsKey } from '../access/index.js';
import {
  ApiServer, applyRoutes, backupRoutes, clusterRoutes, consoleRoutes, jobRoutes, MEMBER_CHANGE_HOLD_MS_MAX, notifyRoutes, outputRoutes, parseForwardFrame, runRoutes, scheduleRoutes, splitHostPort,
  tokenRoutes, workerRoutes, type AccessControl, type ApiTls, type LeaderGate,
} from '../api/index.js';
import { ExecutionPlane, type ExecutionNode } from '../execution/index.js';
import { NotifyPlane } from '../notify/index.js';
import { jsonLogger, type Logger } from '../log/index.js';
import { NodeRuntime, bootstrapFromImage, bootstrapLog, isEmptyStore, parsePeerHello, type PeerLink } from '../node/index.js';
import type { NodeId } from '../raft/index.js';
import { TcpTransport, isLoopbackAddress, type Envelope, type PeerTlsOptions } from '../rpc/index.js';
import { ReplicatedJobs, type ApplyResult, type Command, type JobTable } from '../statemachine/index.js';
import { DurableStorage } from '../storage/index.js';
import { logStoreOf, realClock } from './adapters.js';
import { decodeBackup, type Backup } from './backup.js';
import { ChimeError } from '../errors/index.js';
import { readBundledAsset } from './bundled-assets.js';
import type { AgentConfig } from './config.js';
import { joinCluster } from './join.js';
import { ProcessMetrics } from './metrics.js';
import { WriteTracer } from './trace.js';
import { accessControlOf, auditSinkOf, backupServiceOf, clusterServiceOf, jobServiceOf, notifySecretsOpener, readBarrierOf, runServiceOf, tokenServiceOf, workerServiceOf, type JobNode } from './services.js';

/** How long a leader waits for its hand-off before it stops anyway. */
const HAND_OFF_DEADLINE_MS = 3000;
/** How long a stopping node waits for the writes it holds or forwarded to be answered. */
const DRAIN_DEADLINE_MS = 3000;
const CLUSTER_ID = 'chime';

export interface AgentSecrets {
  /** The shared secret peers prove to each other. */
  readonly clusterKey: Uint8Array;
  /** Signs notification webhooks (--notify-key-file); null: events are recorded, never sent. */
  readonly notifyKey?: Uint8Array | null;
  /** The content of --admin-token-file (checked by the caller), or null. */
  readonly adminToken: string | null;
  /** The admin token a joining node sends (--token-file or CHIME_TOKEN), or null. */
  readonly joinToken: string | null;
  /** The key of --secrets-key-file, or null: secret values are then stored as given. */
  readonly secretsKey: SecretsKey | null;
}

/** The agent cannot serve as configured: the caller prints `message` as one line and exits 2. */
export class StartRefused extends Error {}

/** How often a node given --admin-token-file checks whether it must propose the bootstrap token. */
const BOOTSTRAP_CHECK_MS = 100;
/** How long a node on a non-loopback address waits between tries to learn whether its state holds a token. */
const REFUSE_CHECK_RETRY_MS = 200;

export interface RunningAgent {
  readonly rpc: string;
  readonly http: string;
  readonly logger: Logger;
  /**
   * Re-reads the API and peer certificate files (SIGHUP) and uses them for new connections.
   * Each part that cannot be reloaded keeps its old credentials; the errors are returned.
   */
  reloadCertificates(): string[];
  /** Hands leadership on, stops taking API connections and lets the writes it forwarded be answered, stops scheduling and local runs, then the node, the transport, the API and the disk. */
  stop(): Promise<void>;
}

/**
 * Starts one agent. `fatal` is called (once) when the agent finds, after starting, that it
 * must not serve: a non-loopback API whose replayed state holds no token.
 */
export async function startAgent(config: AgentConfig, secrets: AgentSecrets, out: (line: string) => void, fatal: (message: string) => void = () => {}): Promise<RunningAgent> {
  const logger = jsonLogger(config.id, 'agent', (line) => void process.stderr.write(line), config.logLevel);
  // A backup to found from is checked before anything opens: a bad file changes nothing.
  const backup = config.restore === null ? null : readBackup(config.restore);
  mkdirSync(config.dataDir, { recursive: true });
  const storage = await DurableStorage.open(join(config.dataDir, 'raft'));
  const store = logStoreOf(storage);
  const [httpHost, httpPort] = splitHostPort(config.http);
  // api.md: a cluster without tokens serves only on loopback. A new node without a bootstrap
  // token is refused before anything listens; a node with a history is checked once it has
  // replayed its log (below), and serves 503 on authenticated routes until then.
  const requireTokens = !isLoopbackAddress(httpHost);
  if (requireTokens && secrets.adminToken === null && isEmptyStore(store)) {
    await storage.close();
    throw new StartRefused(`--http ${config.http} is not a loopback address and the cluster has no API token: give --admin-token-file FILE (at least 32 characters)`);
  }
  const metrics = new ProcessMetrics();
  const tracer = process.env['CHIME_TRACE'] === '1' ? new WriteTracer((text) => void process.stderr.write(text)) : null;
  const apiTls = (): ApiTls | undefined => config.tlsCert === null || config.tlsKey === null ? undefined
    : { cert: readPem(config.tlsCert, '--tls-cert'), key: readPem(config.tlsKey, '--tls-key') };
  const peerTls = (): PeerTlsOptions | undefined => config.peerCert === null || config.peerKey === null || config.peerCa === null ? undefined
    : { cert: readPem(config.peerCert, '--peer-cert'), key: readPem(config.peerKey, '--peer-key'), ca: readPem(config.peerCa, '--peer-ca') };
  const firstApiTls = apiTls();
  let apiMade: ApiServer;
  try {
    apiMade = new ApiServer({
      logger: logger.child('api'), observer: metrics.requests, ...(firstApiTls === undefined ? {} : { tls: firstApiTls }),
      ...(tracer === null ? {} : { trace: (stage) => tracer.mark(stage) }),
    });
  } catch (error) {
    await storage.close();
    throw new StartRefused(`--tls-cert/--tls-key unusable: ${error instanceof Error ? error.message : String(error)}`);
  }
  const api = apiMade;
  const http = await api.listen(httpHost, httpPort);

  // The transport delivers from the moment it listens; node and plane exist a moment later.
  let node: NodeRuntime<Command, ApplyResult> | null = null;
  let plane: ExecutionPlane | null = null;
  let notify: NotifyPlane | null = null;
  const rpcLogger = logger.child('rpc');
  const firstPeerTls = peerTls();
  let tcpMade: TcpTransport;
  try {
    tcpMade = new TcpTransport({
    id: config.id,
    clusterId: CLUSTER_ID,
    key: secrets.clusterKey,
    onMessage: (from, envelope) => deliver(from, envelope),
    onUnreachable: (peer) => {
      node?.reportUnreachable(peer);
      api.peerLost(peer);
    },
    onInboundLost: (peer) => api.answersLost(peer),
    log: (level, msg, fields) => rpcLogger[level](msg, fields),
    ...(firstPeerTls === undefined ? {} : { tls: firstPeerTls }),
    });
  } catch (error) {
    await api.close();
    await storage.close();
    throw new StartRefused(error instanceof Error ? error.message : String(error));
  }
  const tcp = tcpMade;
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
  const jobs = new ReplicatedJobs((command, result) => {
    plane?.onApplied(command, result);
    notify?.onApplied(command);
  }, (_node, runs) => plane?.onMemberRemoved(runs));
  const link: PeerLink = { send: (to, envelope) => void tcp.send(to, envelope), flush: () => tcp.flush(), setPeers: (peers) => tcp.setPeers(peers) };
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
    limits: { snapshotEntries: config.snapshotEntries, confChangeHoldMs: MEMBER_CHANGE_HOLD_MS_MAX },
    events: {
      ...metrics.nodeEvents,
      ...(tracer === null ? {} : { trace: tracer.mark.bind(tracer) }),
      silentWorkerRemoved: (member, silentMs) => {
        metrics.nodeEvents.silentWorkerRemoved?.(member, silentMs);
        logger.warn('removing a silent worker member', { member, silentMs });
      },
    },
    listener: {
      leadershipChanged: () => {
        plane?.leadershipChanged();
        api.leaderChanged();
        notify?.leadershipChanged();
      },
    },
    removeSilentWorkersAfterMs: config.removeSilentWorkersAfterMs,
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
    outputDir: join(config.dataDir, 'output'),
    logger: logger.child('execution'),
    startLateness: (lateMs) => metrics.observeStartLateness(lateMs),
    secretsKey: secrets.secretsKey,
  });
  plane = execution;
  const notifyPlane = new NotifyPlane({
    isLeader: () => running.isLeader(),
    term: () => running.term(),
    read: () => running.read(),
    table: () => jobs.table,
    propose: (command) => running.propose(command),
  }, { key: secrets.notifyKey ?? null, cluster: CLUSTER_ID, logger: logger.child('notify'), openSecrets: notifySecretsOpener(secrets.secretsKey) });
  notify = notifyPlane;
  running.start();
  execution.start();
  metrics.bind(running, execution, tcp.metrics);
  metrics.bindJobs(() => jobs.table, notifyPlane);

  const gate: LeaderGate = { nodeId: config.id, isLeader: () => running.isLeader(), leader: () => running.leader(), leaderHttp: () => running.leaderHttp(), appliedIndex: () => running.appliedIndex() };
  const jobService = jobServiceOf(running, () => jobs.table, () => Date.now(), secrets.secretsKey, tracer === null ? undefined : (stage) => tracer.mark(stage));
  const barrier = readBarrierOf(running);
  const auditsLost = metrics.registry.counter('chime_audit_records_lost_total', 'Audit records of changes already made that could not be committed (leadership moved in between)');
  const audits = auditSinkOf(running, () => auditsLost.inc());
  const access = accessControlOf(running, () => jobs.table, {
    bootstrapExpected: secrets.adminToken !== null, requireTokens, metricsOpen: config.metricsOpen,
    nodeOrigins: nodeOriginsOf([config.http, http]), wallNowMs: () => Date.now(),
  });
  api.serve(gate, [
    ...clusterRoutes(clusterServiceOf(running, audits), gate, { render: () => metrics.render() }),
    ...jobRoutes(jobService, barrier),
    ...applyRoutes(jobService),
    ...backupRoutes(backupServiceOf(running, jobs, () => Date.now())),
    ...runRoutes(runServiceOf(execution, audits), jobService, barrier),
    ...outputRoutes({
      nodeId: config.id,
      httpOf: (node) => running.httpOf(node),
      openLocal: async (runId, attempt, options) => {
        const opened = await execution.executor.openOutput(runId, attempt, options);
        if (!opened.ok) return opened;
        const reader = opened.reader;
        return { ok: true, chunks: { next: () => reader.next(), close: () => reader.close() } };
      },
    }, jobService, barrier),
    ...notifyRoutes({ sendTest: (jobId) => notifyPlane.sendTest(jobId) }, jobService, barrier),
    ...workerRoutes(workerServiceOf(execution, config.id), jobService, barrier, () => Date.now()),
    ...tokenRoutes(tokenServiceOf(running), jobService, barrier, () => Date.now()),
    ...scheduleRoutes(jobService, barrier, () => Date.now()),
    ...consoleRoutes((name) => readBundledAsset(name) ?? null),
  ], {
    send: (to, frame) => tcp.send(to, { channel: 'forward', body: frame }),
    reachable: (peer) => tcp.connected(peer),
  }, access);
  metrics.bindForwarding(() => api.forwardStats());
  const bootstrap = secrets.adminToken === null ? null : bootstrapProposer(running, () => jobs.table, secrets.adminToken, logger);
  let stopping = false;
  if (requireTokens && secrets.adminToken === null) void refuseWithoutTokens(access, () => jobs.table, fatal, config.http, () => stopping);
  out(JSON.stringify({ event: 'listening', id: config.id, rpc, http }) + '\n');
  logger.info('agent started', { rpc, http, data: config.dataDir, recovered: !wasEmpty });
  if (config.join !== null && wasEmpty) void joinCluster(config.join, { id: config.id, rpc, http, ...(config.role === 'worker' ? { role: 'worker' } : {}) }, logger, secrets.joinToken, firstPeerTls?.ca ?? null);

  let stopped: Promise<void> | null = null;
  const stop = async (): Promise<void> => {
    stopping = true;
    if (bootstrap !== null) clearInterval(bootstrap);
    await running.handOffLeadership(HAND_OFF_DEADLINE_MS);
    notifyPlane.stop();
    await api.drain(DRAIN_DEADLINE_MS);
    await execution.stop();
    await running.stop();
    await tcp.close();
    await api.close();
    await storage.close();
    tracer?.stop();
  };
  const reloadCertificates = (): string[] => {
    const errors: string[] = [];
    const reload = (what: string, apply: () => void): void => {
      try {
        apply();
        logger.info(`${what} certificates reloaded`);
      } catch (error) {
        errors.push(`${what}: ${error instanceof Error ? error.message : String(error)}`);
      }
    };
    if (config.tlsCert !== null) reload('API', () => {
      const next = apiTls();
      if (next !== undefined) api.reloadTls(next);
    });
    if (config.peerCa !== null) reload('peer', () => {
      const next = peerTls();
      if (next !== undefined) tcp.reloadTls(next);
    });
    for (const error of errors) logger.error('certificate reload failed; the old ones stay in use', { error });
    return errors;
  };
  return { rpc, http, logger, reloadCertificates, stop: () => (stopped ??= stop()) };
}

/**
 * The bootstrap token (api.md: every node of the bootstrap gets the same file): whichever such
 * node leads while the registry is empty proposes it; the second proposal of the same token
 * is a no-op. Once the cluster has a token it is never proposed again, so a revoked
 * bootstrap token does not come back when a node restarts with the file.
 */
function bootstrapProposer(node: JobNode, table: () => JobTable, content: string, logger: Logger): ReturnType<typeof setInterval> {
  let proposing = false;
  const timer: ReturnType<typeof setInterval> = setInterval(() => {
    if (table().tokens.hasTokens) {
      clearInterval(timer);
      return;
    }
    if (proposing || !node.isLeader()) return;
    const made = bootstrapTokenCommand(content, Date.now());
    if (!made.ok) return;
    proposing = true;
    node.propose({ ...made.command, at: made.command.createdAt }).then((result) => {
      if (!result.ok) logger.warn('the bootstrap token was refused', { code: result.code });
      else logger.info('bootstrap admin token recorded', { id: made.command.id });
    }, () => {}).finally(() => (proposing = false));
  }, BOOTSTRAP_CHECK_MS);
  timer.unref();
  return timer;
}

/** A node with a history on a non-loopback address: once replayed, no token in its state means it must not serve. */
async function refuseWithoutTokens(access: AccessControl, table: () => JobTable, fatal: (message: string) => void, http: string, stopped: () => boolean): Promise<void> {
  while (!stopped()) {
    if (await access.catchUp()) {
      if (!table().tokens.hasTokens) fatal(`--http ${http} is not a loopback address and the cluster has no API token: give --admin-token-file FILE (at least 32 characters)`);
      return;
    }
    await new Promise((r) => setTimeout(r, REFUSE_CHECK_RETRY_MS));
  }
}

function readPem(path: string, flag: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (error) {
    throw new StartRefused(`${flag}: cannot read ${path}: ${error instanceof Error ? error.message : String(error)}`);
  }
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
