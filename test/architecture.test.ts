// Enforces the module map of architecture.md: every import under src/ is an edge the table
// allows, goes through the imported folder's one door (its index.ts), and no module imports
// itself back through others. Runs on the TypeScript sources, so it needs no build of its own.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative, resolve, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const srcRoot = join(repoRoot, 'src');

function isBuiltin(p: string): boolean {
  return p.startsWith('node:');
}

const only = (...names: string[]) => (p: string) => names.includes(p);
const assertOnly = only('node:assert', 'node:assert/strict');

/** What each src folder may import: other src folders, and bare packages or builtins. */
const allowed: Record<string, { folders: string[]; packages: (name: string) => boolean }> = {
  raft: { folders: [], packages: assertOnly },
  errors: { folders: [], packages: () => false },
  guards: { folders: [], packages: () => false },
  log: { folders: [], packages: () => false },
  metrics: { folders: [], packages: () => false },
  // statemachine embeds access's TokenRegistry and AuditLog (access imports no folder back).
  statemachine: { folders: ['errors', 'access', 'guards'], packages: (p) => ['cron-parser', 'msgpackr'].includes(p) || assertOnly(p) },
  storage: { folders: ['raft', 'errors'], packages: (p) => ['level', 'msgpackr'].includes(p) || isBuiltin(p) },
  rpc: { folders: ['raft', 'guards'], packages: (p) => ['msgpackr', 'node:net', 'node:tls', 'node:crypto', 'node:events', 'node:buffer', 'node:timers'].includes(p) || assertOnly(p) },
  node: { folders: ['raft', 'errors'], packages: (p) => p === 'msgpackr' || assertOnly(p) },
  scheduler: { folders: ['statemachine', 'errors'], packages: assertOnly },
  executor: { folders: ['guards'], packages: isBuiltin },
  execution: { folders: ['executor', 'scheduler', 'statemachine', 'raft', 'log', 'errors', 'access'], packages: isBuiltin },
  // access imports no other folder but the guards leaf, so statemachine may embed the token registry and audit log.
  access: { folders: ['guards'], packages: (p) => p === 'node:crypto' || assertOnly(p) },
  // notify sends webhooks for the leader: statemachine types in, proposals out through an interface it defines.
  notify: { folders: ['statemachine', 'errors', 'log', 'metrics'], packages: (p) => ['node:crypto', 'node:http', 'node:https', 'node:url', 'node:timers'].includes(p) || assertOnly(p) },
  api: { folders: ['statemachine', 'errors', 'log', 'access', 'guards'], packages: isBuiltin },
  process: { folders: ['raft', 'statemachine', 'storage', 'rpc', 'scheduler', 'executor', 'execution', 'node', 'api', 'log', 'metrics', 'errors', 'access', 'notify'], packages: isBuiltin },
  // The web console runs in a browser and talks HTTP: it imports nothing of src/ and no package.
  console: { folders: [], packages: () => false },
  cli: { folders: ['raft', 'statemachine', 'storage', 'rpc', 'scheduler', 'executor', 'execution', 'node', 'api', 'process', 'log', 'metrics', 'errors', 'access', 'notify'], packages: (p) => isBuiltin(p) || ['level', 'msgpackr', 'cron-parser'].includes(p) },
};

function sourceFiles(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) out.push(...sourceFiles(path));
    else if (name.endsWith('.ts') && !name.endsWith('.test.ts')) out.push(path);
  }
  return out;
}

/** Module specifiers of static imports, re-exports and dynamic imports with a literal. */
export function importsOf(text: string): string[] {
  const specs: string[] = [];
  const patterns = [/\bimport\s[^'"]*?from\s*['"]([^'"]+)['"]/g, /\bexport\s[^'"]*?from\s*['"]([^'"]+)['"]/g, /\bimport\s*['"]([^'"]+)['"]/g, /\bimport\(\s*['"]([^'"]+)['"]\s*\)/g];
  for (const re of patterns) for (const m of text.matchAll(re)) if (m[1] !== undefined) specs.push(m[1]);
  return specs;
}

const folders = readdirSync(srcRoot).filter((f) => statSync(join(srcRoot, f)).isDirectory());

test('every src import is an edge architecture.md allows, through the imported folder\'s index.ts', () => {
  const violations: string[] = [];
  for (const folder of folders) {
    const rule = allowed[folder];
    assert.ok(rule, `src/${folder} is not in architecture.md's module map`);
    for (const file of sourceFiles(join(srcRoot, folder))) {
      for (const spec of importsOf(readFileSync(file, 'utf8'))) {
        const where = relative(repoRoot, file);
        if (spec.startsWith('.')) {
          const target = relative(srcRoot, resolve(dirname(file), spec));
          const [targetFolder = '', ...rest] = target.split('/');
          if (target.startsWith('..')) violations.push(`${where} imports ${spec}, outside src/`);
          else if (targetFolder === folder) continue;
          else if (!rule.folders.includes(targetFolder)) violations.push(`${where} imports src/${targetFolder}`);
          else if (rest.join('/') !== 'index.js') violations.push(`${where} imports ${spec}: another folder is reached through its index.ts only`);
        } else if (!rule.packages(spec)) {
          violations.push(`${where} imports package ${spec}`);
        }
      }
    }
  }
  assert.deepEqual(violations, []);
});

test('every src folder has a README.md, and an index.ts (but the cli, a program)', () => {
  const missing: string[] = [];
  for (const folder of folders) {
    if (!existsSync(join(srcRoot, folder, 'README.md'))) missing.push(`src/${folder}/README.md`);
    if (folder !== 'cli' && !existsSync(join(srcRoot, folder, 'index.ts'))) missing.push(`src/${folder}/index.ts`);
  }
  assert.deepEqual(missing, []);
});

test('no module of src imports itself back through others (no import circles)', () => {
  const graph = new Map<string, string[]>();
  for (const folder of folders) {
    for (const file of sourceFiles(join(srcRoot, folder))) {
      const edges = importsOf(readFileSync(file, 'utf8')).filter((s) => s.startsWith('.')).map((s) => resolve(dirname(file), s).replace(/\.js$/, '.ts'));
      graph.set(file, edges);
    }
  }
  const circles: string[] = [];
  const state = new Map<string, 'open' | 'done'>();
  const visit = (file: string, path: string[]): void => {
    if (state.get(file) === 'done') return;
    if (state.get(file) === 'open') {
      circles.push([...path.slice(path.indexOf(file)), file].map((f) => relative(srcRoot, f)).join(' → '));
      return;
    }
    state.set(file, 'open');
    for (const next of graph.get(file) ?? []) visit(next, [...path, file]);
    state.set(file, 'done');
  };
  for (const file of graph.keys()) visit(file, []);
  assert.deepEqual(circles, []);
});

test('the raft core reads no clock and no randomness', () => {
  const offenders: string[] = [];
  for (const file of sourceFiles(join(srcRoot, 'raft'))) {
    const text = readFileSync(file, 'utf8').replace(/\/\/.*$/gm, '').replace(/\/\*[\s\S]*?\*\//g, '');
    for (const banned of ['Date', 'Math.random', 'setTimeout', 'setInterval', 'setImmediate', 'process.', 'performance.', 'queueMicrotask']) {
      if (new RegExp(`\\b${banned.replace('.', '\\.')}`).test(text)) offenders.push(`${relative(repoRoot, file)} uses ${banned}`);
    }
  }
  assert.deepEqual(offenders, []);
});

test('the node runtime reads no clock, starts no timer and does no I/O of its own (only through its ports)', () => {
  const offenders: string[] = [];
  for (const file of sourceFiles(join(srcRoot, 'node'))) {
    const text = readFileSync(file, 'utf8').replace(/\/\/.*$/gm, '').replace(/\/\*[\s\S]*?\*\//g, '');
    for (const banned of ['Date.now', 'Math.random', 'setTimeout', 'setInterval', 'setImmediate', 'process.', 'performance.', 'queueMicrotask']) {
      if (new RegExp(`\\b${banned.replace('.', '\\.')}`).test(text)) offenders.push(`${relative(repoRoot, file)} uses ${banned}`);
    }
  }
  assert.deepEqual(offenders, []);
});

test('the import parser sees every import form', () => {
  const text = "import a from './a.js';\nimport { b } from \"../b.js\";\nexport * from './c.js';\nimport './d.js';\nconst e = await import('node:fs');\nimport type { F } from 'pkg';";
  assert.deepEqual(importsOf(text).sort(), ['../b.js', './a.js', './c.js', './d.js', 'node:fs', 'pkg'].sort());
});
