import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createInterface } from 'node:readline';
import { parseFlags } from './flags.js';
import { isPackaged } from './packaged.js';
import { OperationError, UsageError } from './usage.js';

export const DEV_HELP = `usage: chime dev [--nodes N] [--dir DIR] [--base-port P]

Runs a local cluster of N nodes (default 3, at most 9) on loopback with data under DIR
(default ./.chime-dev). Node i listens for the API on P+i (default P=8400, so 8401..)
and for peers on P-1000+i (7401..). The CLI run from this directory finds the cluster by
itself (DIR/servers.json) and uses its admin token (DIR/admin.token, made on the first run
and given to every node as --admin-token-file). A node that dies is started again after a backoff (1 s, doubling
to 30 s; reset after a minute up); a line is printed at every change. Ctrl-C stops every
node cleanly.
`;

// Packaged, the executable is the program; from source, node needs the script to run.
const AGENT = isPackaged ? ['agent'] : [fileURLToPath(new URL('./main.js', import.meta.url)), 'agent'];
const RESTART_BACKOFF_MS_MIN = 1000;
const RESTART_BACKOFF_MS_MAX = 30_000;
/** A node up this long has its restart backoff reset: it was not crash-looping. */
const HEALTHY_AFTER_MS = 60_000;
/** An agent that exits this often in a row without ever listening is broken, not unlucky: dev gives up. */
const FAILED_STARTS_MAX = 5;

interface DevNode {
  readonly id: string;
  readonly args: readonly string[];
  readonly http: string;
  child: ChildProcess | null;
  lastExit: number | string | null;
  startedAtMs: number;
  backoffMs: number;
  failedStarts: number;
  listened: boolean;
  timer: NodeJS.Timeout | null;
}

/**
 * The dev cluster's admin token: made once (256 random bits, readable by its owner only) and
 * kept, so a restarted dev cluster and the CLI in this directory keep using the same one.
 */
function devAdminToken(dir: string): string {
  const file = join(dir, 'admin.token');
  try {
    if (readFileSync(file, 'utf8').trim().length >= 32) return file;
  } catch {
    // none yet
  }
  writeFileSync(file, `chime_${randomBytes(32).toString('base64url')}\n`, { mode: 0o600 });
  chmodSync(file, 0o600);
  return file;
}

export async function devCommand(args: string[], out: (s: string) => void): Promise<void> {
  const { values } = parseFlags('dev', args, { nodes: { type: 'string', default: '3' }, dir: { type: 'string', default: './.chime-dev' }, 'base-port': { type: 'string', default: '8400' }, help: { type: 'boolean' } }, false);
  if (values.help === true) return out(DEV_HELP);
  const count = Number(values.nodes);
  const base = Number(values['base-port']);
  if (!Number.isInteger(count) || count < 1 || count > 9) throw new UsageError('dev: --nodes expects 1 to 9');
  if (!Number.isInteger(base) || base < 1100 || base > 65000) throw new UsageError('dev: --base-port expects 1100 to 65000');
  const dir = resolve(values.dir);
  mkdirSync(dir, { recursive: true });
  const ids = Array.from({ length: count }, (_, i) => `n${i + 1}`);
  const peers = ids.map((id, i) => `${id}=127.0.0.1:${base - 1000 + i + 1}`).join(',');
  const tokenFile = devAdminToken(dir);
  const nodes = ids.map((id, i): DevNode => {
    const http = `127.0.0.1:${base + i + 1}`;
    const data = join(dir, id);
    mkdirSync(data, { recursive: true });
    return { id, http, args: [...AGENT, '--id', id, '--data', data, '--rpc', `127.0.0.1:${base - 1000 + i + 1}`, '--http', http, '--peers', peers, '--admin-token-file', tokenFile], child: null, lastExit: null, startedAtMs: 0, backoffMs: RESTART_BACKOFF_MS_MIN, failedStarts: 0, listened: false, timer: null };
  });
  claimDir(dir);
  const serversFile = join(dir, 'servers.json');
  writeFileSync(serversFile, JSON.stringify({ servers: nodes.map((n) => `http://${n.http}`) }) + '\n');
  let stopping = false;
  let failure: string | null = null;
  let resolveDone: () => void = () => {};
  const done = new Promise<void>((r) => (resolveDone = r));
  const checkDone = () => {
    if (stopping && nodes.every((n) => n.child === null)) resolveDone();
  };

  const start = (node: DevNode): void => {
    node.timer = null;
    node.listened = false;
    node.startedAtMs = performance.now();
    // Each agent in a process group of its own, so that a terminal's Ctrl-C reaches dev alone
    // and every agent gets exactly one signal, dev's SIGTERM. An agent that also got the
    // Ctrl-C could receive dev's SIGTERM while exiting, when node no longer handles signals,
    // and die of it.
    const child = spawn(process.execPath, node.args, { detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
    node.child = child;
    createInterface({ input: child.stdout! }).on('line', (line) => {
      if (!node.listened) {
        node.listened = true;
        node.failedStarts = 0;
        out(`${node.id}  up: api http://${node.http}/v1/cluster  console http://${node.http}/\n`);
        return;
      }
      out(`[${node.id}] ${line}\n`);
    });
    createInterface({ input: child.stderr! }).on('line', (line) => out(`[${node.id}] ${line}\n`));
    child.on('exit', (code, signal) => {
      node.child = null;
      node.lastExit = code ?? signal;
      if (stopping) return checkDone();
      const upMs = performance.now() - node.startedAtMs;
      if (upMs >= HEALTHY_AFTER_MS) node.backoffMs = RESTART_BACKOFF_MS_MIN;
      node.failedStarts = node.listened ? 0 : node.failedStarts + 1;
      if (node.failedStarts >= FAILED_STARTS_MAX) {
        failure = `${node.id} exited ${FAILED_STARTS_MAX} times without starting (last: ${code ?? signal}); see its lines above`;
        out(`chime dev: ${failure}; stopping\n`);
        return stop();
      }
      out(`${node.id}  down (exit ${code ?? signal}); restarting in ${node.backoffMs / 1000} s\n`);
      node.timer = setTimeout(() => start(node), node.backoffMs);
      node.backoffMs = Math.min(RESTART_BACKOFF_MS_MAX, node.backoffMs * 2);
    });
  };

  const stop = (): void => {
    if (stopping) return;
    stopping = true;
    out('chime dev: stopping every node\n');
    for (const node of nodes) {
      if (node.timer !== null) clearTimeout(node.timer);
      node.child?.kill('SIGTERM');
    }
    checkDone();
  };

  for (const node of nodes) start(node);
  out(`chime dev: ${count} nodes, data in ${dir}; the CLI here finds them; Ctrl-C stops them\n`);
  out(`chime dev: admin token in ${tokenFile} (the CLI here uses it; the console's sign-in takes its content)\n`);
  // SIGHUP too: a closed terminal no longer reaches the agents, dev has to stop them.
  const signals = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;
  for (const signal of signals) process.on(signal, stop);
  await done;
  for (const signal of signals) process.off(signal, stop);
  rmSync(serversFile, { force: true });
  rmSync(join(dir, 'dev.pid'), { force: true });
  if (failure !== null) throw new OperationError(failure);
  const unclean = nodes.filter((n) => n.lastExit !== 0 && n.lastExit !== null);
  if (unclean.length > 0) throw new OperationError(`nodes exited uncleanly: ${unclean.map((n) => `${n.id}=${String(n.lastExit)}`).join(' ')}`);
}

/** One `chime dev` per directory: a second one would fight the first over the nodes' data. */
function claimDir(dir: string): void {
  const pidFile = join(dir, 'dev.pid');
  let other: number | null = null;
  try {
    other = Number(readFileSync(pidFile, 'utf8').trim());
  } catch {
    other = null;
  }
  if (other !== null && Number.isInteger(other) && other > 0 && other !== process.pid) {
    let alive = false;
    try {
      process.kill(other, 0);
      alive = true;
    } catch {
      alive = false;
    }
    if (alive) throw new OperationError(`another chime dev (pid ${other}) is running on ${dir}; stop it first, or use --dir`);
  }
  writeFileSync(pidFile, `${process.pid}\n`);
}
