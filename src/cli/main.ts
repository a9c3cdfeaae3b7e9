#!/usr/bin/env node
// First: sets V8 flags for the agent before the rest of chime is loaded.
import './jit-warmup.js';
import './js-decoding.js';
import { clusterCommand, CLUSTER_HELP } from './cluster-command.js';
import { devCommand, DEV_HELP } from './dev-command.js';
import { agentCommand } from './agent-command.js';
import { APPLY_HELP, applyCommand } from './apply-command.js';
import { BACKUP_HELP, backupCommand } from './backup-command.js';
import { jobCommand, JOB_HELP } from './job-command.js';
import { runCommand, RUN_HELP } from './run-command.js';
import { notifyCommand, NOTIFY_HELP } from './notify-command.js';
import { FUNCTIONS_HELP, WORKER_HELP, WORKERS_HELP, listCommand, workerCommand } from './worker-command.js';
import { AGENT_HELP } from './agent-config.js';
import { chimeVersion, isPackaged } from './packaged.js';
import { OperationError, UsageError } from './usage.js';
import { COMMAND_TREE, completionScript } from './completion.js';
import { suggestion } from './flags.js';
import { CREDENTIAL_FLAGS_HELP, takeCredentials } from './credentials.js';
import { configureClient } from './http-client.js';
import { TOKEN_HELP, tokenCommand } from './token-command.js';

const HELP = `usage: chime <command> [flags]

commands:
  agent      run one cluster node
  dev        run a local 3-node cluster
  cluster    status, members, add, remove, transfer-leader
  job        put, get, list, next, delete, pause, resume, run
  run        list, get, kill
  notify     list (webhook deliveries), test JOB (send a test event)
  worker     a pull worker: runs a command per claimed run of queue jobs (-- COMMAND ARGS)
  functions  the functions' queues: queued by priority, running, workers, waiting claims
  workers    the pull workers the cluster saw
  apply      create or replace the jobs of files in one step (-f FILE|DIR); diff, export
  backup     a consistent snapshot of the cluster to a file (agent --restore starts a cluster from it)
  token      create, list, revoke API tokens
  version    chime's and node's versions (also --version)
  help       this text; help COMMAND for one command's (every command also takes --help)
  completion bash|zsh: a completion script (source <(chime completion bash))

Every command that talks to a cluster also takes:
${CREDENTIAL_FLAGS_HELP}
Errors go to stderr; exit code 1 for a failed operation, 2 for bad usage.
`;

const HELP_OF: Readonly<Record<string, string>> = {
  agent: AGENT_HELP, dev: DEV_HELP, token: TOKEN_HELP, cluster: CLUSTER_HELP, job: JOB_HELP, run: RUN_HELP, notify: NOTIFY_HELP, apply: APPLY_HELP, diff: APPLY_HELP, export: APPLY_HELP, backup: BACKUP_HELP,
  worker: WORKER_HELP, functions: FUNCTIONS_HELP, workers: WORKERS_HELP,
};

async function main(argv: string[]): Promise<void> {
  const [command, ...given] = argv;
  // The agent and dev read their own flags; every other command talks to the API with these.
  const taken = command === 'agent' || command === 'dev' ? { args: given, credentials: null } : takeCredentials(given);
  if (taken.credentials !== null) configureClient(taken.credentials);
  const rest = taken.args;
  const out = (s: string) => void process.stdout.write(s);
  switch (command) {
    case undefined:
    case '--help':
    case '-h':
      out(HELP);
      if (command === undefined) process.exitCode = 2;
      return;
    case 'help': {
      const [topic] = rest;
      if (topic === undefined) return out(HELP);
      const text = HELP_OF[topic];
      if (text === undefined) throw new UsageError(`help: no command "${topic}"${suggestion(topic, Object.keys(HELP_OF))}`);
      return out(text);
    }
    case 'completion':
      return out(completionScript(rest[0]));
    case 'version':
    case '--version':
      out(`chime ${chimeVersion()} (node ${process.version}${isPackaged ? ', single executable' : ''})\n`);
      return;
    case 'agent':
      return agentCommand(rest, out);
    case 'dev':
      return devCommand(rest, out);
    case 'cluster':
      return clusterCommand(rest, out);
    case 'job':
      return jobCommand(rest, out);
    case 'run':
      return runCommand(rest, out);
    case 'notify':
      return notifyCommand(rest, out);
    case 'apply':
    case 'diff':
    case 'export':
      return applyCommand(command, rest, out);
    case 'backup':
      return backupCommand(rest, out);
    case 'worker':
      return workerCommand(rest, out);
    case 'functions':
    case 'workers':
      return listCommand(command, rest, out);
    case 'token':
      return tokenCommand(rest, out);
    default:
      throw new UsageError(`unknown command "${command}"${suggestion(command, Object.keys(COMMAND_TREE))} (try chime help)`);
  }
}

// A reader that goes away (`chime … | head`) is not an error worth a stack trace.
process.stdout.on('error', (error: NodeJS.ErrnoException) => {
  if (error.code === 'EPIPE') process.exit(process.exitCode ?? 0);
});

main(process.argv.slice(2)).catch((error: unknown) => {
  const message = error instanceof Error ? error.message : String(error);
  process.stderr.write(`chime: ${message.split('\n')[0]}\n`);
  process.exitCode = error instanceof UsageError ? 2 : error instanceof OperationError ? 1 : 1;
});
