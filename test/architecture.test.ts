// Enforces the module map of architecture.md: every import under src/ must be an edge the
// table allows. Runs on the TypeScript sources, so it needs no build of its own.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative, resolve, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const srcRoot = join(repoRoot, 'src');

/** What each src folder may import: other src folders, and bare packages or builtins. */
const allowed: Record<string, { folders: string[]; packages: (name: string) => boolean }> = {
  raft: { folders: [], packages: (p) => p === 'node:assert' || p === 'node:assert/strict' },
  statemachine: { folders: [], packages: (p) => ['cron-parser', 'msgpackr', 'node:assert', 'node:assert/strict'].includes(p) },
  storage: { folders: ['raft'], packages: (p) => ['level', 'msgpackr', 'node:assert', 'node:assert/strict'].includes(p) || isBuiltin(p) },
  rpc: { folders: ['raft'], packages: (p) => ['msgpackr', 'node:net', 'node:tls', 'node:crypto', 'node:assert', 'node:assert/strict', 'node:events', 'node:buffer', 'node:timers'].includes(p) },
  scheduler: { folders: ['statemachine'], packages: (p) => p === 'node:assert' || p === 'node:assert/strict' },
  executor: { folders: [], packages: isBuiltin },
  agent: { folders: ['raft', 'statemachine', 'storage', 'rpc', 'scheduler', 'executor'], packages: (p) => isBuiltin(p) || ['level', 'msgpackr', 'cron-parser'].includes(p) },
  api: { folders: ['agent', 'statemachine'], packages: isBuiltin },
  cli: { folders: ['raft', 'statemachine', 'storage', 'rpc', 'scheduler', 'executor', 'agent', 'api'], packages: (p) => isBuiltin(p) || ['level', 'msgpackr', 'cron-parser'].includes(p) },
};

function isBuiltin(p: string): boolean {
  return p.startsWith('node:');
}

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

test('every src import is an edge architecture.md allows', () => {
  const violations: string[] = [];
  for (const folder of readdirSync(srcRoot)) {
    if (!statSync(join(srcRoot, folder)).isDirectory()) continue;
    const rule = allowed[folder];
    assert.ok(rule, `src/${folder} is not in architecture.md's module map`);
    for (const file of sourceFiles(join(srcRoot, folder))) {
      for (const spec of importsOf(readFileSync(file, 'utf8'))) {
        const where = relative(repoRoot, file);
        if (spec.startsWith('.')) {
          const target = relative(srcRoot, resolve(dirname(file), spec));
          const targetFolder = target.split('/')[0] ?? '';
          if (target.startsWith('..')) violations.push(`${where} imports ${spec}, outside src/`);
          else if (targetFolder !== folder && !rule.folders.includes(targetFolder)) violations.push(`${where} imports src/${targetFolder}`);
        } else if (!rule.packages(spec)) {
          violations.push(`${where} imports package ${spec}`);
        }
      }
    }
  }
  assert.deepEqual(violations, []);
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

test('the import parser sees every import form', () => {
  const text = "import a from './a.js';\nimport { b } from \"../b.js\";\nexport * from './c.js';\nimport './d.js';\nconst e = await import('node:fs');\nimport type { F } from 'pkg';";
  assert.deepEqual(importsOf(text).sort(), ['../b.js', './a.js', './c.js', './d.js', 'node:fs', 'pkg'].sort());
});
