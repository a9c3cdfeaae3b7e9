import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseFlags } from './flags.js';
import { createInterface } from 'node:readline';
import { isPackaged } from './packaged.js';
import { UsageError } from './usage.js';

export const DEV_HELP = `usage: chime dev [--nodes N] [--dir DIR] [--base-port P]

Runs a local cluster of N nodes (default 3) on loopback with data under DIR
(default ./.chime-dev). Node i listens for the API on P+i (default P=8400, so 8401..)
and for peers on P-1000+i (7401..). Ctrl-C stops every node cleanly.
`;

// Packaged, the executable is the program; from source, node needs the script to run.
const AGENT = isPackaged ? ['agent'] : [fileURLToPath(new URL('./main.js', import.meta.url)), 'agent'];

export async function devCommand(args: string[], out: (s: string) => void): Promise<void> {
  const { values } = parseFlags('dev', args, { nodes: { type: 'string', default: '3' }, dir: { type: 'string', default: './.chime-dev' }, 'base-port': { type: 'string', default: '8400' }, help: { type: 'boolean' } }, false);
  if (values.help === true) return out(DEV_HELP);
  const count = Number(values.nodes);
  const base = Number(values['base-port']);
  if (!Number.isInteger(count) || count < 1 || count > 9) throw new UsageError('--nodes: expected 1 to 9');
  if (!Number.isInteger(base) || base < 1100 || base > 65000) throw new UsageError('--base-port: expected 1100 to 65000');
  const dir = resolve(values.dir);
  const ids = Array.from({ length: count }, (_, i) => `n${i + 1}`);
  const peers = ids.map((id, i) => `${id}=127.0.0.1:${base - 1000 + i + 1}`).join(',');
  const children = new Map<string, ChildProcess>();
  for (const [i, id] of ids.entries()) {
    const data = join(dir, id);
    mkdirSync(data, { recursive: true });
    const http = `127.0.0.1:${base + i + 1}`;
    // Each agent in a process group of its own, so that a terminal's Ctrl-C reaches dev alone
    // and every agent gets exactly one signal, dev's SIGTERM. An agent that also got the
    // Ctrl-C could receive dev's SIGTERM while exiting, when node no longer handles signals,
    // and die of it.
    const child = spawn(process.execPath, [...AGENT, '--id', id, '--data', data, '--rpc', `127.0.0.1:${base - 1000 + i + 1}`, '--http', http, '--peers', peers], { detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
    children.set(id, child);
    let first = true;
    createInterface({ input: child.stdout! }).on('line', (line) => {
      if (first) {
        first = false;
        out(`${id}  api http://${http}/v1/cluster  console http://${http}/\n`);
        return;
      }
      out(`[${id}] ${line}\n`);
    });
    createInterface({ input: child.stderr! }).on('line', (line) => out(`[${id}] ${line}\n`));
  }
  out(`chime dev: ${count} nodes, data in ${dir}; Ctrl-C stops them\n`);
  let stopping = false;
  const stop = () => {
    if (stopping) return;
    stopping = true;
    out('chime dev: stopping every node\n');
    for (const child of children.values()) child.kill('SIGTERM');
  };
  // SIGHUP too: a closed terminal no longer reaches the agents, dev has to stop them.
  const signals = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;
  for (const signal of signals) process.on(signal, stop);
  const codes = await Promise.all([...children.entries()].map(([id, child]) => new Promise<[string, number | string | null]>((done) => child.on('exit', (code, signal) => done([id, code ?? signal])))));
  for (const signal of signals) process.off(signal, stop);
  const failed = codes.filter(([, code]) => code !== 0);
  if (!stopping || failed.length > 0) {
    for (const child of children.values()) if (child.exitCode === null) child.kill('SIGTERM');
    throw new Error(`nodes exited: ${codes.map(([id, code]) => `${id}=${code}`).join(' ')}`);
  }
}
