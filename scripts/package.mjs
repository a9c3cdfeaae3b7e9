#!/usr/bin/env node
// `npm run package`: dist/chime, one executable holding node, the compiled program and its
// runtime dependencies (a Node single executable application; docs/packaging.md).
// Usage, after `npm run build`: node scripts/package.mjs [--assets DIR]
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmodSync, copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createRequire, isBuiltin } from 'node:module';
import { basename, dirname, extname, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
// Intermediate files, kept: stack traces from dist/chime name lines of dist/sea/bundle.cjs.
const STAGE = join(ROOT, 'dist', 'sea');
const CJS = join(STAGE, 'cjs');
const ENTRY = 'dist/src/cli/main.js';
const OUTPUT = join(ROOT, 'dist', 'chime');
// The marker compiled into node that postject flips to say "a blob is injected".
const FUSE = 'NODE_SEA_FUSE_fce680ab2cc467b6e072b8b5df1996b2';
// What classic-level and msgpackr-extract call to find their .node file. The bundle answers
// instead with an embedded copy of the file the real loader picks on this machine.
const ADDON_LOADERS = ['node-gyp-build', 'node-gyp-build-optional-packages'];
const REQUIRE_CALL = /\brequire\(\s*(['"])([^'"\n]+)\1\s*\)/g;
const requireHere = createRequire(import.meta.url);

/** The line of a failed tool's output that says what went wrong, so the packer's error is one line. */
function tellingLine(result) {
  const lines = `${result.stderr ?? ''}\n${result.stdout ?? ''}`.split('\n').map((line) => line.trim()).filter(Boolean);
  return lines.find((line) => /(^|: )\w*error\b/i.test(line)) ?? lines.at(-1) ?? String(result.error ?? `exit code ${result.status}`);
}

function runNode(what, args) {
  const result = spawnSync(process.execPath, args, { cwd: ROOT, encoding: 'utf8' });
  if (result.status !== 0) throw new Error(`${what} failed: ${tellingLine(result)}`);
}

/** Module keys are repository paths as the program has them from source (dist/src/…, node_modules/…). */
function keyOf(file) {
  const path = file.startsWith(CJS + sep) ? join('dist', 'src', relative(CJS, file)) : relative(ROOT, file);
  return path.split(sep).join('/');
}

/** A single executable runs one CommonJS script: tsc rewrites our ESM output (what runs from source) as CommonJS. */
function toCommonJs() {
  if (!existsSync(join(ROOT, ENTRY))) throw new Error(`${ENTRY} is missing: run npm run build first`);
  const tsc = join(dirname(requireHere.resolve('typescript/package.json')), 'bin', 'tsc');
  runNode('tsc (ESM to CommonJS)', [tsc, '--ignoreConfig', '--allowJs', '--noCheck', '--module', 'commonjs', '--target', 'es2023', '--rootDir', 'dist/src', '--outDir', CJS, ENTRY]);
}

/** Every file reachable from the entry through literal require calls, with what each call resolves to. */
function collectModules() {
  const modules = new Map();
  const addons = {};
  const queue = [join(CJS, relative('dist/src', ENTRY))];
  while (queue.length > 0) {
    const file = queue.pop();
    if (modules.has(keyOf(file))) continue;
    const source = readFileSync(file, 'utf8');
    const deps = {};
    for (const [, , spec] of source.matchAll(REQUIRE_CALL)) {
      if (isBuiltin(spec) || Object.hasOwn(deps, spec)) continue;
      if (ADDON_LOADERS.includes(spec)) {
        const addon = createRequire(file)(spec).path(dirname(file));
        const key = `addon/${createHash('sha256').update(readFileSync(addon)).digest('hex').slice(0, 16)}-${basename(addon)}`;
        addons[key] = addon;
        deps[spec] = `addon:${key}`;
        continue;
      }
      let target;
      try {
        target = createRequire(file).resolve(spec);
      } catch {
        continue; // a require in a comment, or an optional package absent here: the runtime says so if it is called
      }
      if (!['.js', '.cjs', '.json'].includes(extname(target))) throw new Error(`${keyOf(file)} requires ${spec}, a ${extname(target)} file the bundle cannot hold`);
      deps[spec] = keyOf(target);
      queue.push(target);
    }
    modules.set(keyOf(file), { deps, source });
  }
  return { modules, addons };
}

/** The loader (scripts/sea-runtime.cjs) followed by every module as a function. */
function writeBundle(modules) {
  const parts = [readFileSync(join(ROOT, 'scripts', 'sea-runtime.cjs'), 'utf8'), 'start({'];
  for (const key of [...modules.keys()].sort()) {
    const { deps, source } = modules.get(key);
    let body = key.endsWith('.json') ? `module.exports = ${source};` : source.replace(/^#!.*/, '');
    // tsc leaves import.meta in CommonJS output; each of our modules gets its own as a parameter.
    if (key.startsWith('dist/src/')) body = body.replaceAll('import.meta', '__importMeta');
    // Parenthesised so that V8 compiles the function eagerly and the code cache holds it.
    parts.push(`${JSON.stringify(key)}: [${JSON.stringify(deps)}, (function (exports, require, module, __filename, __dirname, __importMeta) {\n${body}\n})],`);
  }
  parts.push(`}, ${JSON.stringify(ENTRY)});\n`);
  const file = join(STAGE, 'bundle.cjs');
  writeFileSync(file, parts.join('\n'));
  return file;
}

/** Files under DIR, as asset keys "static/<path>" (what readBundledAsset in src/process/bundled-assets.ts reads). */
function staticAssets(dir, required) {
  if (!existsSync(dir)) {
    if (required) throw new Error(`--assets ${dir}: no such folder`);
    return {};
  }
  const assets = {};
  const walk = (at) => {
    for (const name of readdirSync(at)) {
      const path = join(at, name);
      if (statSync(path).isDirectory()) walk(path);
      else assets[`static/${relative(dir, path).split(sep).join('/')}`] = path;
    }
  };
  walk(dir);
  return assets;
}

/** node writes the blob (script, code cache, assets); postject puts it into a copy of node. */
function buildExecutable(main, assets) {
  const config = join(STAGE, 'sea-config.json');
  const blob = join(STAGE, 'sea-prep.blob');
  writeFileSync(config, JSON.stringify({ main, output: blob, disableExperimentalSEAWarning: true, useCodeCache: true, assets }, null, 2));
  runNode('node --experimental-sea-config', ['--experimental-sea-config', config]);
  const temp = `${OUTPUT}.tmp`;
  copyFileSync(process.execPath, temp);
  chmodSync(temp, 0o755);
  runNode('postject', [requireHere.resolve('postject/dist/cli.js'), temp, 'NODE_SEA_BLOB', blob, '--sentinel-fuse', FUSE]);
  return temp;
}

/** The cheapest proof that the executable starts, loads its modules and reads its assets. */
function checkStarts(file) {
  const { version } = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8'));
  const check = spawnSync(file, ['--version'], { encoding: 'utf8' });
  if (!check.stdout?.startsWith(`chime ${version} `)) throw new Error(`the new executable does not start: ${tellingLine(check)}`);
}

function main() {
  const started = performance.now();
  const { values } = parseArgs({ options: { assets: { type: 'string' } } });
  // The default is where src/process/bundled-assets.ts reads static files from when run from source.
  const assetsDir = resolve(ROOT, values.assets ?? 'dist/console');
  // Other systems also need the executable re-signed (macOS codesign, Windows signtool).
  if (process.platform !== 'linux') throw new Error(`building on ${process.platform} is not supported, only on Linux`);
  // A failed run leaves no dist/chime, rather than an old one that a smoke test would pass.
  for (const stale of [STAGE, OUTPUT, `${OUTPUT}.tmp`]) rmSync(stale, { recursive: true, force: true });
  mkdirSync(STAGE, { recursive: true });
  toCommonJs();
  const { modules, addons } = collectModules();
  const statics = staticAssets(assetsDir, values.assets !== undefined);
  const bundle = writeBundle(modules);
  const built = buildExecutable(bundle, { 'package.json': join(ROOT, 'package.json'), ...addons, ...statics });
  checkStarts(built);
  renameSync(built, OUTPUT);
  const mb = (bytes) => `${(bytes / 1e6).toFixed(1)} MB`;
  console.log(`package: dist/chime ${mb(statSync(OUTPUT).size)}: node ${process.version}, ${modules.size} modules (${mb(statSync(bundle).size)}), ` +
    `${Object.keys(addons).length} native addons, ${Object.keys(statics).length} static files from ${relative(ROOT, assetsDir)}; ${((performance.now() - started) / 1000).toFixed(1)} s`);
}

try {
  main();
} catch (error) {
  console.error(`package: ${error instanceof Error ? error.message : String(error)}`);
  process.exitCode = 1;
}
