// The console's static files, from wherever this program keeps them: `dist/console/` beside
// the compiled code when run from source, the single executable's embedded assets when run as
// dist/chime (docs/packaging.md). Both the CLI and the agent wiring read them through here.
import { readFileSync } from 'node:fs';
import { join, posix } from 'node:path';
import { getAsset, isSea } from 'node:sea';
import { fileURLToPath } from 'node:url';

/** True inside dist/chime: the executable is the whole program, there is no main.js on disk. */
export const isPackaged: boolean = isSea();

/** The static files folder: the packer embeds it (its --assets default) as "static/<path>". */
const STATIC_DIR = fileURLToPath(new URL('../../console/', import.meta.url));

/**
 * A static file (the console's HTML, scripts, styles) by its path under the static folder,
 * or undefined when there is none. A path that climbs out of the folder has none, so an HTTP
 * handler may pass a request's path as it came.
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
