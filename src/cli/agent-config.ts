import { readFileSync } from 'node:fs';
import { parseFlags } from './flags.js';
import type { AgentConfig } from '../process/index.js';
import { UsageError, errorMessage } from './usage.js';

export type { AgentConfig };

export const AGENT_HELP = `usage: chime agent --id ID [flags]

  --id ID                     node id, [a-z0-9][a-z0-9-]{0,31} (required)
  --data DIR                  data directory (default ./chime-data/ID)
  --rpc HOST:PORT             peer listen address (default 127.0.0.1:7400; port 0 picks one)
  --http HOST:PORT            API and console address (default 127.0.0.1:8400; port 0 picks one)
  --peers ID=HOST:PORT,...    founding voters with their rpc addresses (only for an empty data dir)
  --join URL                  start empty and ask the cluster at URL to add this node (an https
                              URL is checked against --peer-ca when given)
  --role voter|worker         with --join: voter (default; a learner promoted once caught up) or
                              worker (an executor that never votes and is never promoted)
  --remove-silent-workers-after DURATION
                              as leader, remove a worker member silent this long (e.g. 10m; default never)
  --token-file FILE           the admin token --join sends to a cluster with tokens (else $CHIME_TOKEN)
  --restore FILE              found a new cluster (with --peers, empty data) from a backup (chime backup)
  --tag KEY=VALUE             node label for job targeting (repeatable)
  --slots N                   runs that may execute here at once (default 8)
  --cluster-key-file FILE     shared secret peers prove to each other
  --notify-key-file FILE      key that signs notification webhooks (same file on every node)
  --admin-token-file FILE     the first admin token when the cluster is founded (one line, >= 32 chars);
                              required for an --http address that is not loopback
  --metrics-open              GET /metrics without a token
  --secrets-key-file FILE     seal secretEnv/secretHeaders values (AES-256-GCM) in the log, WAL and
                              snapshots; the same file (>= 32 bytes) on every node
  --tls-cert FILE --tls-key FILE
                              serve the API and console over HTTPS only (PEM; re-read on SIGHUP)
  --peer-cert FILE --peer-key FILE --peer-ca FILE
                              mutual TLS between peers: each certificate names its node
                              (URI:chime-node:ID) and is signed by the CA (re-read on SIGHUP)
  --heartbeat-ms N            leader heartbeat interval (default 50)
  --election-ms N             base election timeout; each term waits N..2N (default 250)
  --snapshot-entries N        snapshot the state and compact the log every N entries (default 10000)
  --config FILE               JSON file with any of these flags as keys (flags win)
  --log-level LEVEL           debug, info, warn or error (default info)
`;


const NODE_ID = /^[a-z0-9][a-z0-9-]{0,31}$/;
const HOST_PORT = /^(\[[0-9a-fA-F:]+\]|[^\s:[\]]+):(\d{1,5})$/;

const OPTIONS = {
  id: { type: 'string' },
  data: { type: 'string' },
  rpc: { type: 'string' },
  http: { type: 'string' },
  peers: { type: 'string' },
  join: { type: 'string' },
  role: { type: 'string' },
  'remove-silent-workers-after': { type: 'string' },
  restore: { type: 'string' },
  tag: { type: 'string', multiple: true },
  slots: { type: 'string' },
  'cluster-key-file': { type: 'string' },
  'notify-key-file': { type: 'string' },
  'admin-token-file': { type: 'string' },
  'metrics-open': { type: 'boolean' },
  'secrets-key-file': { type: 'string' },
  'token-file': { type: 'string' },
  'tls-cert': { type: 'string' },
  'tls-key': { type: 'string' },
  'peer-cert': { type: 'string' },
  'peer-key': { type: 'string' },
  'peer-ca': { type: 'string' },
  'heartbeat-ms': { type: 'string' },
  'election-ms': { type: 'string' },
  config: { type: 'string' },
  'log-level': { type: 'string' },
  'snapshot-entries': { type: 'string' },
  help: { type: 'boolean' },
} as const;

type OptionName = keyof typeof OPTIONS;
type Raw = Partial<Record<OptionName, string | string[] | boolean>>;

/** A flag this agent defines (an own key of OPTIONS: not `toString` or another inherited name). */
function isOptionName(key: string): key is OptionName {
  return Object.hasOwn(OPTIONS, key);
}

const LOG_LEVELS = ['debug', 'info', 'warn', 'error'] as const satisfies readonly AgentConfig['logLevel'][];

function readConfigFile(path: string): Raw {
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(path, 'utf8'));
  } catch (error) {
    throw new UsageError(`--config: cannot read ${path}: ${errorMessage(error)}`);
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new UsageError(`--config: ${path} must hold a JSON object`);
  const out: Raw = {};
  for (const [key, value] of Object.entries(parsed)) {
    if (!isOptionName(key) || key === 'config' || key === 'help') throw new UsageError(`--config: unknown key "${key}" in ${path}`);
    if (key === 'tag') {
      if (!Array.isArray(value) || !value.every((v): v is string => typeof v === 'string')) throw new UsageError('--config: "tag" must be an array of KEY=VALUE strings');
      out.tag = value;
    } else if (typeof value === 'string' || typeof value === 'number') out[key] = String(value);
    else throw new UsageError(`--config: "${key}" must be a string or number`);
  }
  return out;
}

function hostPort(flag: string, value: string): string {
  const m = HOST_PORT.exec(value);
  if (m === null || Number(m[2]) > 65535) throw new UsageError(`--${flag}: expected HOST:PORT, got "${value}"`);
  return value;
}

function positiveInt(flag: string, value: string | undefined, fallback: number, min = 1): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isInteger(n) || n < min) throw new UsageError(`--${flag}: expected a whole number >= ${min}, got "${value}"`);
  return n;
}

export function parsePeers(value: string): Map<string, string> {
  const peers = new Map<string, string>();
  for (const part of value.split(',').filter(Boolean)) {
    const at = part.indexOf('=');
    const id = part.slice(0, at);
    if (at <= 0 || !NODE_ID.test(id)) throw new UsageError(`--peers: "${part}" is not ID=HOST:PORT`);
    if (peers.has(id)) throw new UsageError(`--peers: ${id} appears twice`);
    peers.set(id, hostPort('peers', part.slice(at + 1)));
  }
  if (peers.size === 0) throw new UsageError('--peers: empty');
  return peers;
}

/** Flags and --config merged and checked; every problem is a UsageError naming the flag. */
export function parseAgentConfig(args: string[]): AgentConfig | 'help' {
  const parsed = parseFlags('agent', args, OPTIONS, false);
  const flags: Raw = parsed.values;
  if (flags.help === true) return 'help';
  const raw: Raw = { ...(typeof flags.config === 'string' ? readConfigFile(flags.config) : {}), ...flags };
  const str = (k: OptionName): string | undefined => {
    const value = raw[k];
    return typeof value === 'string' ? value : undefined;
  };
  const id = str('id');
  if (id === undefined) throw new UsageError('--id is required');
  if (!NODE_ID.test(id)) throw new UsageError(`--id: "${id}" must match [a-z0-9][a-z0-9-]{0,31}`);
  const peersText = str('peers');
  const join = str('join') ?? null;
  if (peersText !== undefined && join !== null) throw new UsageError('--peers and --join exclude each other');
  const restore = str('restore') ?? null;
  if (restore !== null && peersText === undefined) throw new UsageError('--restore founds a new cluster: it needs --peers (every founding node gets the same backup and --peers)');
  const peers = peersText === undefined ? null : parsePeers(peersText);
  if (peers !== null && !peers.has(id)) throw new UsageError(`--peers must include this node (${id})`);
  if (join !== null) {
    try {
      new URL(join);
    } catch {
      throw new UsageError(`--join: not a URL: ${join}`);
    }
  }
  const roleText = str('role') ?? 'voter';
  if (roleText !== 'voter' && roleText !== 'worker') throw new UsageError(`--role: "${roleText}" is not voter or worker`);
  if (roleText === 'worker' && join === null) throw new UsageError('--role worker joins an existing cluster: it needs --join URL');
  const silentText = str('remove-silent-workers-after');
  const silentMatch = silentText === undefined ? null : /^(\d{1,9})(ms|s|m|h)$/.exec(silentText);
  if (silentText !== undefined && silentMatch === null) throw new UsageError(`--remove-silent-workers-after: "${silentText}" is not a duration like 30s, 10m or 1h`);
  const removeSilentWorkersAfterMs = silentMatch === null ? null
    : Number(silentMatch[1]) * (silentMatch[2] === 'ms' ? 1 : silentMatch[2] === 's' ? 1000 : silentMatch[2] === 'm' ? 60_000 : 3_600_000);
  const tags: Record<string, string> = {};
  for (const tag of Array.isArray(raw.tag) ? raw.tag : []) {
    const at = tag.indexOf('=');
    if (at <= 0) throw new UsageError(`--tag: "${tag}" is not KEY=VALUE`);
    tags[tag.slice(0, at)] = tag.slice(at + 1);
  }
  const level = str('log-level') ?? 'info';
  const logLevel = LOG_LEVELS.find((known) => known === level);
  if (logLevel === undefined) throw new UsageError(`--log-level: "${level}" is not debug, info, warn or error`);
  const tlsCert = str('tls-cert') ?? null;
  const tlsKey = str('tls-key') ?? null;
  if ((tlsCert === null) !== (tlsKey === null)) throw new UsageError('--tls-cert and --tls-key go together');
  const peerTls = [str('peer-cert'), str('peer-key'), str('peer-ca')];
  if (peerTls.some((v) => v !== undefined) && !peerTls.every((v) => v !== undefined)) throw new UsageError('--peer-cert, --peer-key and --peer-ca go together');
  const heartbeatMs = positiveInt('heartbeat-ms', str('heartbeat-ms'), 50);
  const electionMs = positiveInt('election-ms', str('election-ms'), 250);
  if (electionMs < heartbeatMs * 2) throw new UsageError('--election-ms must be at least twice --heartbeat-ms');
  return {
    id,
    dataDir: str('data') ?? `./chime-data/${id}`,
    rpc: hostPort('rpc', str('rpc') ?? '127.0.0.1:7400'),
    http: hostPort('http', str('http') ?? '127.0.0.1:8400'),
    peers,
    join,
    role: roleText,
    removeSilentWorkersAfterMs,
    tags,
    slots: positiveInt('slots', str('slots'), 8),
    clusterKeyFile: str('cluster-key-file') ?? null,
    notifyKeyFile: str('notify-key-file') ?? null,
    heartbeatMs,
    electionMs,
    logLevel,
    snapshotEntries: positiveInt('snapshot-entries', str('snapshot-entries'), 10_000, 10),
    restore,
    adminTokenFile: str('admin-token-file') ?? null,
    metricsOpen: raw['metrics-open'] === true,
    secretsKeyFile: str('secrets-key-file') ?? null,
    tokenFile: str('token-file') ?? null,
    tlsCert,
    tlsKey,
    peerCert: str('peer-cert') ?? null,
    peerKey: str('peer-key') ?? null,
    peerCa: str('peer-ca') ?? null,
  };
}
