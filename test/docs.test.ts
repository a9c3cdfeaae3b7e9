// Docs tell the truth about files: a README or doc that names a file that no longer exists is
// a bug. Checks every src/*/README.md (file names it gives in backticks, relative to its
// folder) and the repo's other docs (every path under src/ or test/ they mention).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');

/** A path exists as written, or as the .ts source of a .js name. */
function exists(path: string): boolean {
  return existsSync(path) || (path.endsWith('.js') && existsSync(path.replace(/\.js$/, '.ts')));
}

function markdownIn(dir: string): string[] {
  return readdirSync(dir).filter((n) => n.endsWith('.md')).map((n) => join(dir, n));
}

test('every src/*/README.md names only files that exist', () => {
  const missing: string[] = [];
  for (const folder of readdirSync(join(repoRoot, 'src'))) {
    const readme = join(repoRoot, 'src', folder, 'README.md');
    if (!statSync(join(repoRoot, 'src', folder)).isDirectory() || !existsSync(readme)) continue;
    const text = readFileSync(readme, 'utf8');
    for (const m of text.matchAll(/`([A-Za-z0-9_./-]+\.(?:ts|md|txt|json|mjs|cjs))`/g)) {
      const name = m[1] ?? '';
      const here = join(repoRoot, 'src', folder, name);
      const fromRoot = join(repoRoot, name);
      if (!exists(here) && !exists(fromRoot)) missing.push(`src/${folder}/README.md names ${name}`);
    }
  }
  assert.deepEqual(missing, []);
});

test('README.md, docs/ and the test READMEs name only src/ and test/ paths that exist', () => {
  const docs = [join(repoRoot, 'README.md'), ...markdownIn(join(repoRoot, 'docs')), ...['sim', 'jepsen-like'].map((d) => join(repoRoot, 'test', d, 'README.md')).filter(existsSync)];
  const missing: string[] = [];
  for (const doc of docs) {
    const text = readFileSync(doc, 'utf8');
    for (const m of text.matchAll(/(?<![\w/.-])((?:src|test)\/[A-Za-z0-9_.\/-]*[A-Za-z0-9_])/g)) {
      const path = (m[1] ?? '').replace(/\.$/, '');
      if (path.includes('*')) continue;
      if (!exists(join(repoRoot, path))) missing.push(`${doc.slice(repoRoot.length + 1)} names ${path}`);
    }
  }
  assert.deepEqual(missing, []);
});
