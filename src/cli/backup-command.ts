// `chime backup FILE`: a consistent snapshot of the cluster's state (GET /v1/snapshot), checked
// against its own checksum and written atomically; `chime agent --restore FILE` founds a new
// cluster from it.
import { renameSync, writeFileSync } from 'node:fs';
import { decodeBackup } from '../process/index.js';
import { JobTable } from '../statemachine/index.js';
import { parseFlags } from './flags.js';
import { apiCaller } from './http-client.js';
import { formatDuration } from './output.js';
import { OperationError, UsageError, errorMessage, serverList } from './usage.js';

export const BACKUP_HELP = `usage: chime backup FILE [--server URLS]

  A consistent snapshot of every job and run record (every write acknowledged before it began
  is in it), checked against its checksum, then written to FILE. Start a new cluster from it
  with \`chime agent --restore FILE --id ID --peers …\` on empty data directories (the same
  FILE and --peers on every founding node).
`;

const BACKUP_TIMEOUT_MS = 10 * 60_000;

export async function backupCommand(args: string[], out: (s: string) => void): Promise<void> {
  const { values, positionals } = parseFlags('backup', args, { server: { type: 'string' }, help: { type: 'boolean' } });
  if (values.help === true) return out(BACKUP_HELP);
  const [file, extra] = positionals;
  if (file === undefined || extra !== undefined) throw new UsageError('backup: needs exactly one FILE');
  const startedMs = performance.now();
  const answer = await apiCaller(serverList(values.server))('GET', '/v1/snapshot', undefined, BACKUP_TIMEOUT_MS);
  const backup = decodeBackup(answer.raw);
  const jobs = JobTable.restore(backup.image).jobCount;
  const temporary = `${file}.partial`;
  try {
    writeFileSync(temporary, answer.raw);
    renameSync(temporary, file);
  } catch (error) {
    throw new OperationError(`backup: cannot write ${file}: ${errorMessage(error)}`);
  }
  out(`backup of ${jobs} jobs at log index ${backup.index} from ${backup.node} written to ${file} (${(answer.raw.length / 2 ** 20).toFixed(1)} MiB, ${formatDuration(performance.now() - startedMs)})\n`);
}
