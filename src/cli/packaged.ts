// What differs between running from source (dist/ and node_modules/ on disk) and running as
// dist/chime, the single executable that scripts/package.mjs builds (docs/packaging.md).
import { readFileSync } from 'node:fs';
import { getAsset } from 'node:sea';
import { isPackaged } from '../process/index.js';

/**
 * True inside dist/chime; `readBundledAsset` reads the console's static files there or from
 * dist/console/. Both live in src/process (the agent wiring serves the files), and are
 * re-exported here for the CLI.
 */
export { isPackaged, readBundledAsset } from '../process/index.js';

/** package.json's version: beside dist/ from source, embedded by the packer when packaged. */
export function chimeVersion(): string {
  const text = isPackaged ? getAsset('package.json', 'utf8') : readFileSync(new URL('../../../package.json', import.meta.url), 'utf8');
  const pkg: unknown = JSON.parse(text);
  const version: unknown = typeof pkg === 'object' && pkg !== null ? Reflect.get(pkg, 'version') : undefined;
  if (typeof version !== 'string') throw new Error('package.json holds no version');
  return version;
}
