// What differs between running from source (dist/ and node_modules/ on disk) and running as
// dist/chime, the single executable that scripts/package.mjs builds (docs/packaging.md).
import { readFileSync } from 'node:fs';
import { join, posix } from 'node:path';
import { getAsset, isSea } from 'node:sea';
import { fileURLToPath } from 'node:url';

/** True inside dist/chime: the executable is the whole program, there is no main.js on disk. */
export const isPackaged: boolean = isSea();

/** The static files folder: the packer embeds it (its --assets default) as "static/<path>". */
const STATIC_DIR = fileURLToPath(new URL('../../console/', import.meta.url));

/**
 * A static file (a future console's HTML, scripts, styles) by its path under the static
 * folder, or undefined when there is none. A path that climbs out of the folder has none, so
 * an HTTP handler may pass a request's path as it came.
 */
export function readBundledAsset(name: string): Buffer | undefined {
  const path = posix.normalize(name);
  if (path === '..' || path.startsWith('../') || posix.isAbsolute(path) || path.includes('\0')) return undefined;
  try {
    return isPackaged ? Buffer.from(getAsset(`static/${path}`)) : readFileSync(join(STATIC_DIR, path));
  } catch (error) {
    const code = error instanceof Error && 'code' in error ? error.code : undefined;
    if (code === 'ENOENT' || code === 'EISDIR' || code === 'ENOTDIR' || code === 'ERR_SINGLE_EXECUTABLE_APPLICATION_ASSET_NOT_FOUND') return undefined;
    throw error;
  }
}

/** package.json's version: beside dist/ from source, embedded by the packer when packaged. */
export function chimeVersion(): string {
  const text = isPackaged ? getAsset('package.json', 'utf8') : readFileSync(new URL('../../../package.json', import.meta.url), 'utf8');
  const pkg: unknown = JSON.parse(text);
  const version: unknown = typeof pkg === 'object' && pkg !== null ? Reflect.get(pkg, 'version') : undefined;
  if (typeof version !== 'string') throw new Error('package.json holds no version');
  return version;
}
