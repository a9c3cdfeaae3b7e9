// The module loader of dist/chime. scripts/package.mjs puts this file at the top of the
// bundle and appends `start(MODULES, ENTRY)`. Node 20 runs a single executable's script as
// CommonJS whose `require` knows only builtins, so every bundled file is a function in
// MODULES with the table of what its `require` calls resolve to, decided at build time.
const { getRawAsset } = require('node:sea');
const { isBuiltin } = require('node:module');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { pathToFileURL } = require('node:url');

function start(modules, entry) {
  const cache = new Map();
  function load(key) {
    const cached = cache.get(key);
    if (cached !== undefined) return cached.exports;
    const [deps, body] = modules[key];
    // Files get paths under the executable, as if it were a folder: `__dirname` and
    // `import.meta.url` stay well-formed, and a read beside them fails loudly (ENOTDIR).
    const filename = path.join(process.execPath, key);
    const module = { filename, exports: {} };
    cache.set(key, module);
    const require = (spec) => {
      const target = Object.hasOwn(deps, spec) ? deps[spec] : undefined;
      if (target === undefined) return requireBuiltin(spec);
      if (target.startsWith('addon:')) return () => loadAddon(target.slice('addon:'.length));
      return load(target);
    };
    body.call(module.exports, module.exports, require, module, filename, path.dirname(filename), { url: pathToFileURL(filename).href });
    return module.exports;
  }
  load(entry);
}

// Anything else was not found when the bundle was made (optional dependencies such as
// msgpackr's accelerator are required inside try/catch and expect this error).
function requireBuiltin(spec) {
  if (isBuiltin(spec)) return require(spec);
  throw Object.assign(new Error(`Cannot find module '${spec}' (not bundled into chime)`), { code: 'MODULE_NOT_FOUND' });
}

// A native addon is dlopen'ed, which needs a file: each is written once to a path named by
// its content hash, so versions never clash, concurrent starts (chime dev starts several
// agents at once) agree, and later starts only check that the file is there.
function loadAddon(key) {
  const dir = addonDir();
  const file = path.join(dir, path.basename(key));
  if (!fs.existsSync(file)) {
    const temp = `${file}.${process.pid}.tmp`;
    fs.writeFileSync(temp, new Uint8Array(getRawAsset(key)), { mode: 0o755 });
    fs.renameSync(temp, file); // atomic: no process ever dlopens a half-written file
  }
  const module = { exports: {} };
  process.dlopen(module, file);
  return module.exports;
}

// The user's cache survives reboots (one extraction per version) and is rarely mounted
// noexec as /tmp often is; the temp folder is the fallback for a user without a home. The
// folder must be ours and closed to others, since we execute what is in it.
function addonDir() {
  const xdg = process.env.XDG_CACHE_HOME ?? '';
  const cache = path.isAbsolute(xdg) ? xdg : path.join(os.homedir(), '.cache');
  const candidates = [path.join(cache, 'chime', 'addons'), path.join(os.tmpdir(), `chime-${process.getuid()}`, 'addons')];
  for (const dir of candidates.filter((d) => path.isAbsolute(d))) {
    try {
      fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
      const stat = fs.statSync(dir);
      if (stat.uid === process.getuid() && (stat.mode & 0o022) === 0) {
        fs.accessSync(dir, fs.constants.W_OK);
        return dir;
      }
    } catch {
      // not usable: try the next one
    }
  }
  throw new Error(`no private writable folder for native addons among ${candidates.join(', ')} (set XDG_CACHE_HOME)`);
}
