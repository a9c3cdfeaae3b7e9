// `chime apply -f FILE|DIR`, `chime diff -f FILE|DIR` and `chime export`: job specs kept in
// files, as kubectl keeps manifests. apply sends every job of the files in one request, which
// the server commits as one log entry: all of them or none.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { basename, join } from 'node:path';
import { parseFlags } from './flags.js';
import { READ_ONLY_JOB_FIELDS } from '../statemachine/index.js';
import { fieldsOf, isFields, listOf, text, textOrNull, type Fields } from './answers.js';
import { apiCaller, apiSender, problemLine } from './http-client.js';
import { OperationError, UsageError, errorMessage, serverList } from './usage.js';

export const APPLY_HELP = `usage: chime apply -f FILE|DIR [--dry-run]
       chime diff -f FILE|DIR
       chime export [--stale]

  apply -f   create or replace every job of FILE (a .json file holding one job with its "id",
             or an array of them) or of DIR's *.json files, in one log entry: all or nothing;
             prints what happened to each job (created, configured, unchanged)
  diff -f    what apply would change, field by field, nothing stored
  export     every job's spec as a JSON array on stdout (no server fields): apply -f takes it back

flags:
  --server URLS  nodes' APIs, comma-separated, tried in order (default $CHIME_SERVER, else the
                 chime dev cluster of this directory, else http://127.0.0.1:8400)
  --dry-run      apply: show the outcomes, store nothing
`;

/** A job read from a file, with where it came from for error messages. */
interface FileJob {
  readonly file: string;
  readonly id: string;
  readonly spec: Fields;
}

/** Fields the server adds to a stored job; a spec in a file never needs them. */
const SERVER_FIELDS: ReadonlySet<string> = new Set<string>([...READ_ONLY_JOB_FIELDS, 'updatedBy']);
const EXPORT_PAGE = 1000;

function jsonFiles(path: string): string[] {
  let stat;
  try {
    stat = statSync(path);
  } catch (error) {
    throw new UsageError(`-f ${path}: ${errorMessage(error)}`);
  }
  if (!stat.isDirectory()) return [path];
  const names = readdirSync(path).filter((n) => n.endsWith('.json')).sort();
  if (names.length === 0) throw new UsageError(`-f ${path}: the directory holds no .json files`);
  return names.map((n) => join(path, n));
}

/** Every job of the files, in file order; a file that is not a job or a list of jobs is named. */
export function readJobFiles(path: string): FileJob[] {
  const jobs: FileJob[] = [];
  for (const file of jsonFiles(path)) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(readFileSync(file, 'utf8'));
    } catch (error) {
      throw new UsageError(`${file}: not JSON: ${errorMessage(error)}`);
    }
    const items: unknown[] = Array.isArray(parsed) ? parsed : [parsed];
    items.forEach((item, i) => {
      const where = Array.isArray(parsed) ? `${file} [${i}]` : file;
      if (!isFields(item)) throw new UsageError(`${where}: a job must be a JSON object`);
      const id = item['id'];
      if (typeof id !== 'string' || id === '') throw new UsageError(`${where}: every job in a file needs its "id"`);
      jobs.push({ file: where, id, spec: item });
    });
  }
  if (jobs.length === 0) throw new UsageError(`-f ${path}: no jobs`);
  return jobs;
}

/** A 400 about `jobs[i].field` as one line naming the file and the job. */
function applyProblem(body: unknown, jobs: readonly FileJob[], fallback: string): string {
  const errors = isFields(body) ? body['errors'] : undefined;
  const first = Array.isArray(errors) ? errors.find(isFields) : undefined;
  const path = typeof first?.['path'] === 'string' ? first['path'] : '';
  const m = /^jobs\[(\d+)\]\.?(.*)$/.exec(path);
  const job = m === null ? undefined : jobs[Number(m[1])];
  if (first === undefined || job === undefined || m === null) return fallback;
  const more = Array.isArray(errors) && errors.length > 1 ? ` (and ${errors.length - 1} more)` : '';
  return `${job.file}: job ${job.id}: ${m[2] === '' ? '' : `${m[2]}: `}${String(first['message'])}${more}; nothing was applied`;
}

async function postApply(servers: readonly string[], jobs: readonly FileJob[], dryRun: boolean): Promise<{ id: string; outcome: string }[]> {
  const answer = await apiSender(servers)('POST', '/v1/apply', { jobs: jobs.map((j) => j.spec), dryRun }, 60_000);
  if (answer.status === 400) throw new OperationError(applyProblem(answer.body, jobs, problemLine(answer)));
  if (answer.status >= 400) throw new OperationError(problemLine(answer));
  return listOf(fieldsOf(answer.body, 'apply'), 'items', 'apply', (item, what) => {
    const o = fieldsOf(item, what);
    return { id: text(o, 'id', what), outcome: text(o, 'outcome', what) };
  });
}

/** A stored job without the fields the server adds: what `apply -f` takes back unchanged. */
export function specOf(job: Fields): Fields {
  return Object.fromEntries(Object.entries(job).filter(([k]) => !SERVER_FIELDS.has(k)));
}

/** The fields whose values differ between two specs, with both values as JSON. */
export function changedFields(before: Fields, after: Fields): { field: string; before: string; after: string }[] {
  const keys = [...new Set([...Object.keys(before), ...Object.keys(after)])].sort();
  return keys
    .map((field) => ({ field, before: JSON.stringify(before[field]) ?? 'absent', after: JSON.stringify(after[field]) ?? 'absent' }))
    .filter((c) => c.before !== c.after);
}

async function exportJobs(servers: readonly string[], stale: boolean, out: (s: string) => void): Promise<void> {
  const call = apiCaller(servers);
  const specs: Fields[] = [];
  let cursor: string | null = null;
  do {
    const query = new URLSearchParams({ limit: String(EXPORT_PAGE) });
    if (cursor !== null) query.set('cursor', cursor);
    if (stale) query.set('stale', 'true');
    const page = fieldsOf((await call('GET', `/v1/jobs?${query}`)).body, 'page');
    for (const job of listOf(page, 'items', 'page', (item, what) => fieldsOf(item, what))) specs.push(specOf(job));
    cursor = textOrNull(page, 'nextCursor', 'page');
  } while (cursor !== null);
  out(JSON.stringify(specs, null, 2) + '\n');
}

async function diffJobs(servers: readonly string[], jobs: readonly FileJob[], out: (s: string) => void): Promise<void> {
  const call = apiCaller(servers);
  const outcomes = await postApply(servers, jobs, true);
  let changes = 0;
  for (const [i, job] of jobs.entries()) {
    const outcome = outcomes[i]?.outcome ?? 'unknown';
    if (outcome === 'unchanged') continue;
    changes++;
    if (outcome === 'created') {
      out(`+ job ${job.id} (${basename(job.file)}): new\n`);
      continue;
    }
    const stored = specOf(fieldsOf((await call('GET', `/v1/jobs/${encodeURIComponent(job.id)}`)).body, 'job'));
    const wanted = fieldsOf(fieldsOf((await call('PUT', `/v1/jobs/${encodeURIComponent(job.id)}?dryRun=true`, job.spec)).body, 'dry run')['job'], 'dry run.job');
    out(`~ job ${job.id} (${basename(job.file)}):\n`);
    for (const c of changedFields(stored, specOf(wanted))) out(`    ${c.field}: ${c.before} → ${c.after}\n`);
  }
  if (changes === 0) out('no changes\n');
}

export async function applyCommand(command: 'apply' | 'diff' | 'export', args: string[], out: (s: string) => void): Promise<void> {
  const parsed = parseFlags(command, args, { server: { type: 'string' }, file: { type: 'string', short: 'f' }, 'dry-run': { type: 'boolean' }, stale: { type: 'boolean' }, help: { type: 'boolean' } }, false);
  const { values } = parsed;
  if (values.help === true) return out(APPLY_HELP);
  const servers = serverList(values.server);
  if (command === 'export') return exportJobs(servers, values.stale === true, out);
  if (values.file === undefined) throw new UsageError(`${command}: needs -f FILE or -f DIR`);
  const jobs = readJobFiles(values.file);
  if (command === 'diff') return diffJobs(servers, jobs, out);
  const dryRun = values['dry-run'] === true;
  for (const { id, outcome } of await postApply(servers, jobs, dryRun)) out(`job ${id} ${outcome}${dryRun ? ' (dry run)' : ''}\n`);
}
