#!/usr/bin/env node
// Builds the web console into dist/console: src/console/*.ts compiled by its own tsconfig
// (browser modules, DOM lib) and the static files copied beside them. The folder is rebuilt
// from nothing, so no stale file is ever served or packed into dist/chime. Prints the files'
// total size, plain and gzip-compressed (the page-weight budget is 150 KiB compressed).
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const SRC = join(ROOT, 'src', 'console');
const OUT = join(ROOT, 'dist', 'console');
const STATIC = /\.(html|css|svg|png|ico|txt|json)$/;

rmSync(OUT, { recursive: true, force: true });
mkdirSync(OUT, { recursive: true });
const tsc = join(dirname(createRequire(import.meta.url).resolve('typescript/package.json')), 'bin', 'tsc');
const compiled = spawnSync(process.execPath, [tsc, '-p', join(SRC, 'tsconfig.json')], { stdio: 'inherit' });
if (compiled.status !== 0) {
  console.error('build-console: tsc failed');
  process.exit(compiled.status ?? 1);
}
for (const name of readdirSync(SRC)) {
  if (STATIC.test(name) && name !== 'tsconfig.json') copyFileSync(join(SRC, name), join(OUT, name));
}
let plain = 0;
let gzip = 0;
const files = readdirSync(OUT).filter((n) => statSync(join(OUT, n)).isFile());
for (const name of files) {
  const bytes = readFileSync(join(OUT, name));
  plain += bytes.length;
  gzip += gzipSync(bytes, { level: 9 }).length;
}
if (process.env.npm_config_loglevel !== 'silent') {
  console.log(`build-console: ${files.length} files in dist/console, ${(plain / 1024).toFixed(1)} KiB (${(gzip / 1024).toFixed(1)} KiB gzip)`);
}
