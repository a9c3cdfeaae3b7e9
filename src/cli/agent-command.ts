import { readFileSync } from 'node:fs';
import { splitHostPort } from '../api/index.js';
import { bootstrapTokenFromFile, secretsKeyFromFile, type SecretsKey } from '../access/index.js';
import { StartRefused, startAgent, type AgentConfig } from '../process/index.js';
import { DEVELOPMENT_CLUSTER_KEY, isLoopbackAddress } from '../rpc/index.js';
import { AGENT_HELP, parseAgentConfig } from './agent-config.js';
import { notifyKeyOf } from '../notify/index.js';
import { UsageError } from './usage.js';

/** A node that does not stop within this after SIGTERM/SIGINT exits anyway. */
const SHUTDOWN_DEADLINE_MS = 10_000;
const CLUSTER_KEY_CHARS_MIN = 16;

/** A secret file a flag names, read whole; an unreadable one is a usage error naming the flag (never the content). */
function readFlagFile(flag: string, path: string): Buffer {
  try {
    return readFileSync(path);
  } catch (error) {
    throw new UsageError(`--${flag}: cannot read ${path}: ${error instanceof Error ? error.message : String(error)}`);
  }
}

function clusterKey(config: AgentConfig): Uint8Array {
  if (config.clusterKeyFile !== null) {
    const key = readFlagFile('cluster-key-file', config.clusterKeyFile).toString('utf8').trim();
    if (key.length < CLUSTER_KEY_CHARS_MIN) throw new UsageError(`--cluster-key-file: the key must be at least ${CLUSTER_KEY_CHARS_MIN} characters`);
    return new TextEncoder().encode(key);
  }
  // Mutual TLS authenticates peers by certificate: the development key is then only framing.
  if (config.peerCa !== null) return DEVELOPMENT_CLUSTER_KEY;
  for (const [flag, address] of [['rpc', config.rpc], ['http', config.http]] as const) {
    const [host] = splitHostPort(address);
    if (!isLoopbackAddress(host)) throw new UsageError(`--${flag} ${address} is not a loopback address; without --cluster-key-file the node listens on loopback only`);
  }
  return DEVELOPMENT_CLUSTER_KEY;
}

function notifyKey(config: AgentConfig): Uint8Array | null {
  if (config.notifyKeyFile === null) return null;
  const content = readFlagFile('notify-key-file', config.notifyKeyFile);
  try {
    return notifyKeyOf(content);
  } catch (error) {
    throw new UsageError(`--notify-key-file: ${error instanceof Error ? error.message : String(error)}`);
  }
}

/** The bootstrap token's content, checked as api.md says (the secret never appears in a message). */
function adminToken(config: AgentConfig): string | null {
  if (config.adminTokenFile === null) return null;
  const checked = bootstrapTokenFromFile(readFlagFile('admin-token-file', config.adminTokenFile).toString('utf8'));
  if (!checked.ok) throw new UsageError(`--admin-token-file: ${checked.message}`);
  return checked.secret;
}

/** The token --join sends: --token-file's content, else CHIME_TOKEN. */
function joinToken(config: AgentConfig): string | null {
  if (config.tokenFile !== null) return readFlagFile('token-file', config.tokenFile).toString('utf8').trim();
  const env = process.env['CHIME_TOKEN'];
  return env === undefined || env.trim() === '' ? null : env.trim();
}

/** The key of --secrets-key-file: its bytes as they are, at least 32 (api.md). */
function secretsKey(config: AgentConfig): SecretsKey | null {
  if (config.secretsKeyFile === null) return null;
  const made = secretsKeyFromFile(readFlagFile('secrets-key-file', config.secretsKeyFile));
  if (!made.ok) throw new UsageError(`--secrets-key-file: ${made.message}`);
  return made.key;
}

export async function agentCommand(args: string[], out: (s: string) => void): Promise<void> {
  const config = parseAgentConfig(args);
  if (config === 'help') return out(AGENT_HELP);
  const secrets = { clusterKey: clusterKey(config), notifyKey: notifyKey(config), adminToken: adminToken(config), secretsKey: secretsKey(config), joinToken: joinToken(config) };
  const fatal = (message: string): void => {
    process.stderr.write(`chime: ${message}\n`);
    process.exit(2);
  };
  let agent;
  try {
    agent = await startAgent(config, secrets, out, fatal);
  } catch (error) {
    if (error instanceof StartRefused) throw new UsageError(error.message);
    throw error;
  }
  // SIGHUP: new certificates for new connections; a bad file keeps the old ones (logged).
  process.on('SIGHUP', () => void agent.reloadCertificates());
  const signal = await new Promise<string>((resolve) => {
    process.once('SIGTERM', () => resolve('SIGTERM'));
    process.once('SIGINT', () => resolve('SIGINT'));
  });
  agent.logger.info('shutting down', { signal });
  setTimeout(() => {
    agent.logger.error('shutdown deadline passed; exiting');
    process.exit(1);
  }, SHUTDOWN_DEADLINE_MS).unref();
  await agent.stop();
  agent.logger.info('stopped');
}
