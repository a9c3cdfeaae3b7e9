// Runs one mutant: copy the repository to a temporary directory (node_modules linked, dist
// left out), apply the mutant's edit, build with tsc, run the unit and scripted tests of the
// Raft core and of its host (src/raft, src/node), then the simulator over a bounded range of seeds, stopping at the first failure.
import { spawn } from 'node:child_process';
import { copyFileSync, cpSync, mkdtempSync, readFileSync, readdirSync, realpathSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Mutant } from './catalogue.js';

/** The repository this file was built from (dist/test/mutate/ → three levels up). */
export const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');

/** What the build of a mutated copy needs; dist is rebuilt, node_modules linked. */
const COPIED = ['src', 'test', 'scripts', 'package.json', 'tsconfig.json'] as const;

export interface RunOptions {
  /** Simulator seeds to try, from `firstSeed` on; 0 skips the simulator. */
  readonly seeds: number;
  readonly firstSeed: number;
  readonly nodes: 3 | 5;
  /** Ceiling for one unit-test run and for one simulator run. */
  readonly unitTimeoutMs: number;
  readonly simTimeoutMs: number;
}

export interface MutantOutcome {
  readonly mutant: Mutant;
  /** Set when the mutant could not be run (it does not compile): the catalogue needs fixing. */
  readonly error: string | null;
  /** Names of the unit or scripted tests that failed; empty when all passed. */
  readonly unitFailures: readonly string[];
  readonly unitTimedOut: boolean;
  /** The first failing seed and what the simulator said; null when every seed passed. */
  readonly sim: { readonly seed: number; readonly invariant: string } | null;
  readonly simRan: boolean;
  readonly buildSeconds: number;
  readonly unitSeconds: number;
  readonly simSeconds: number;
}

export function caught(outcome: MutantOutcome): boolean {
  return outcome.error === null && (outcome.unitFailures.length > 0 || outcome.unitTimedOut || outcome.sim !== null);
}

/** The file's text with the mutant applied; throws unless the search text occurs exactly once. */
export function applyMutant(text: string, mutant: Mutant): string {
  const count = text.split(mutant.search).length - 1;
  if (count !== 1) throw new Error(`mutant ${mutant.name}: its search text occurs ${count} times in ${mutant.file}, not once; update the catalogue`);
  return text.replace(mutant.search, () => mutant.replace);
}

/** Problems with the catalogue against the sources under `root`: empty when every mutant applies. */
export function checkCatalogue(mutants: readonly Mutant[], root = repoRoot): string[] {
  const problems: string[] = [];
  const names = new Set<string>();
  for (const mutant of mutants) {
    if (names.has(mutant.name)) problems.push(`mutant ${mutant.name} is listed twice`);
    names.add(mutant.name);
    if (mutant.search === mutant.replace) problems.push(`mutant ${mutant.name} changes nothing`);
    try {
      applyMutant(readFileSync(join(root, mutant.file), 'utf8'), mutant);
    } catch (error) {
      problems.push(error instanceof Error ? error.message : String(error));
    }
  }
  return problems;
}

interface Finished {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
  readonly timedOut: boolean;
}

/**
 * Runs a node script in `cwd`. `stopWhen` sees each stdout line; returning true ends the
 * child (it is ours, killed by its own handle).
 */
function runNode(args: readonly string[], cwd: string, timeoutMs: number, stopWhen?: (line: string) => boolean): Promise<Finished> {
  return new Promise((resolvePromise, reject) => {
    // Under node --test (the short run in npm test) the parent's test context would make a
    // child `node --test` report to it instead of printing TAP: the child gets a clean one.
    const env = { ...process.env };
    delete env['NODE_TEST_CONTEXT'];
    const child = spawn(process.execPath, args, { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    let pending = '';
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, timeoutMs);
    child.stdout.setEncoding('utf8');
    child.stderr.setEncoding('utf8');
    child.stdout.on('data', (chunk: string) => {
      stdout += chunk;
      if (stopWhen === undefined) return;
      pending += chunk;
      const lines = pending.split('\n');
      pending = lines.pop() ?? '';
      if (lines.some(stopWhen)) child.kill('SIGTERM');
    });
    child.stderr.on('data', (chunk: string) => {
      stderr += chunk;
    });
    child.on('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      resolvePromise({ code, stdout, stderr, timedOut });
    });
  });
}

/** A copy of the repository with the mutant applied, ready to build. */
function prepareCopy(mutant: Mutant): string {
  const dir = mkdtempSync(join(tmpdir(), `chime-mutant-${mutant.name}-`));
  for (const entry of COPIED) {
    const from = join(repoRoot, entry);
    if (entry.endsWith('.json')) copyFileSync(from, join(dir, entry));
    else cpSync(from, join(dir, entry), { recursive: true });
  }
  symlinkSync(realpathSync(join(repoRoot, 'node_modules')), join(dir, 'node_modules'), 'dir');
  const path = join(dir, mutant.file);
  writeFileSync(path, applyMutant(readFileSync(path, 'utf8'), mutant));
  return dir;
}

/** Names of failing tests in TAP output (the per-file wrapper tests left out). */
export function failingTests(tap: string): string[] {
  const names: string[] = [];
  for (const line of tap.split('\n')) {
    const match = /^\s*not ok \d+ - (.*?)(?: # .*)?$/.exec(line);
    const name = match?.[1];
    if (name === undefined || name.endsWith('.js')) continue;
    if (!names.includes(name)) names.push(name);
  }
  return names;
}

const seconds = (since: number) => (performance.now() - since) / 1000;

export async function runMutant(mutant: Mutant, options: RunOptions): Promise<MutantOutcome> {
  const dir = prepareCopy(mutant);
  try {
    let started = performance.now();
    const build = await runNode([join(repoRoot, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', dir], dir, 300_000);
    const buildSeconds = seconds(started);
    // A mutant that does not compile tells nothing about the tests: the catalogue is wrong.
    if (build.code !== 0) {
      const error = `does not compile: ${(build.stdout + build.stderr).trim().split('\n')[0] ?? ''}`;
      return { mutant, error, unitFailures: [], unitTimedOut: false, sim: null, simRan: false, buildSeconds, unitSeconds: 0, simSeconds: 0 };
    }

    started = performance.now();
    // The core's tests, then its host's: the Ready loop's mutants are the host's to catch.
    const testFiles = ['raft', 'node'].flatMap((folder) => {
      const dist = join(dir, 'dist', 'src', folder);
      return readdirSync(dist).filter((f) => f.endsWith('.test.js')).sort().map((f) => join(dist, f));
    });
    const unit = await runNode(['--test', '--test-reporter=tap', '--test-concurrency=1', `--test-timeout=${options.unitTimeoutMs}`, ...testFiles], dir, options.unitTimeoutMs + 30_000);
    const unitFailures = unit.code === 0 ? [] : failingTests(unit.stdout);
    if (unit.code !== 0 && unitFailures.length === 0 && !unit.timedOut) unitFailures.push(`(test run exited ${unit.code}: ${unit.stderr.split('\n')[0] ?? ''})`);
    const unitSeconds = seconds(started);

    started = performance.now();
    let sim: MutantOutcome['sim'] = null;
    if (options.seeds > 0) {
      const failLine = /^FAIL seed=(\d+) nodes=\d+ (\S+) at t=/;
      const run = await runNode(
        [join(dir, 'dist', 'test', 'sim', 'cli.js'), '--seeds', String(options.seeds), '--seed', String(options.firstSeed), '--nodes', String(options.nodes)],
        dir,
        options.simTimeoutMs,
        (line) => failLine.test(line),
      );
      const first = run.stdout.split('\n').map((l) => failLine.exec(l)).find((m) => m !== null);
      if (first !== undefined && first !== null) sim = { seed: Number(first[1]), invariant: first[2] as string };
      else if (run.timedOut) sim = { seed: options.firstSeed, invariant: `timeout after ${options.simTimeoutMs / 1000}s` };
      else if (run.code !== 0) sim = { seed: options.firstSeed, invariant: `simulator exited ${run.code}: ${run.stderr.split('\n')[0] ?? ''}` };
    }
    return { mutant, error: null, unitFailures, unitTimedOut: unit.timedOut, sim, simRan: options.seeds > 0, buildSeconds, unitSeconds, simSeconds: seconds(started) };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Runs the mutants, `jobs` at a time; `onDone` hears each as it finishes. */
export async function runMutants(mutants: readonly Mutant[], options: RunOptions, jobs: number, onDone: (outcome: MutantOutcome) => void = () => {}): Promise<MutantOutcome[]> {
  const outcomes = new Array<MutantOutcome>(mutants.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < mutants.length) {
      const index = next++;
      const outcome = await runMutant(mutants[index] as Mutant, options);
      outcomes[index] = outcome;
      onDone(outcome);
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(jobs, mutants.length)) }, worker));
  return outcomes;
}

/** The report: one row per mutant. */
export function formatTable(outcomes: readonly MutantOutcome[], options: RunOptions): string {
  const rows = outcomes.map((o) => {
    const unit = o.unitTimedOut ? 'unit tests timed out' : o.unitFailures.length === 0 ? '' : `${o.unitFailures[0]}${o.unitFailures.length > 1 ? ` (+${o.unitFailures.length - 1} more)` : ''}`;
    const sim = !o.simRan ? 'not run' : o.sim === null ? `none in ${options.seeds} seeds` : `${o.sim.invariant} (seed ${o.sim.seed})`;
    const by = o.error !== null ? `ERROR: ${o.error}` : unit !== '' ? unit : o.sim !== null ? `sim: ${o.sim.invariant}` : 'SURVIVED';
    const seed = o.sim === null ? '-' : String(o.sim.seed);
    const time = `${(o.buildSeconds + o.unitSeconds + o.simSeconds).toFixed(1)}s (unit ${o.unitSeconds.toFixed(1)}s, sim ${o.simSeconds.toFixed(1)}s)`;
    return [o.mutant.name, by.replaceAll('|', '/'), sim.replaceAll('|', '/'), seed, time];
  });
  const header = ['mutant', 'caught by (unit/scripted test, else sim invariant)', 'simulator', 'first failing seed', 'time'];
  const line = (cells: readonly string[]) => `| ${cells.join(' | ')} |`;
  return [line(header), line(header.map(() => '---')), ...rows.map(line)].join('\n');
}
