#!/usr/bin/env node
// Runs every compiled *.test.js under dist/ with node:test. Node 20's `--test` takes no
// globs, so the file list is built here; extra arguments filter files by substring.
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';

const roots = ['dist/src', 'dist/test'];
const filters = process.argv.slice(2);
const files = [];
function walk(dir) {
  let names;
  try { names = readdirSync(dir); } catch { return; }
  for (const name of names.sort()) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) walk(path);
    else if (name.endsWith('.test.js')) files.push(path);
  }
}
roots.forEach(walk);
const chosen = filters.length === 0 ? files : files.filter((f) => filters.some((s) => f.includes(s)));
if (chosen.length === 0) {
  console.error('run-tests: no test files found (did the build run?)');
  process.exit(1);
}
// --test-force-exit: a file whose tests have all finished ends even if something it started
// still holds the event loop (a workload loop after a failed check); without it that file,
// and with it the whole run, would wait forever.
const result = spawnSync(process.execPath, ['--test', '--test-concurrency=2', '--test-force-exit', ...chosen], { stdio: 'inherit' });
process.exit(result.status ?? 1);
