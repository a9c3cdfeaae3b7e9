import { readFileSync } from 'node:fs';
import { join } from 'node:path';
/** A usage error: printed as one line to stderr, exit code 2. */
export class UsageError extends Error {}

/** An operation that failed: printed as one line to stderr, exit code 1. */
export class OperationError extends Error {}

/** The message of anything thrown: an Error's own, else the value as text. */
export function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** Where `chime dev` records its nodes' API addresses, relative to the directory it ran in. */
export const DEV_SERVERS_FILE = join('.chime-dev', 'servers.json');
const DEFAULT_SERVER = 'http://127.0.0.1:8400';

/** The `chime dev` cluster of the current directory, if one recorded its servers there. */
function devServers(): string[] | null {
  let text: string;
  try {
    text = readFileSync(DEV_SERVERS_FILE, 'utf8');
  } catch {
    return null;
  }
  try {
    const parsed: unknown = JSON.parse(text);
    const servers: unknown = typeof parsed === 'object' && parsed !== null ? Reflect.get(parsed, 'servers') : undefined;
    return Array.isArray(servers) && servers.length > 0 && servers.every((s) => typeof s === 'string') ? servers : null;
  } catch {
    return null;
  }
}

/**
 * The servers to try, in order: `--server a,b,c`, else $CHIME_SERVER (also a list), else the
 * `chime dev` cluster of the current directory, else http://127.0.0.1:8400.
 */
export function serverList(flag: string | undefined): string[] {
  const text = flag ?? process.env['CHIME_SERVER'];
  const urls = text !== undefined ? text.split(',').map((s) => s.trim()).filter((s) => s !== '') : (devServers() ?? [DEFAULT_SERVER]);
  if (urls.length === 0) throw new UsageError('--server: no URL given');
  return urls.map((url) => {
    try {
      return new URL(url).toString().replace(/\/$/, '');
    } catch {
      throw new UsageError(`--server: not a URL: ${url}`);
    }
  });
}

/** The flags `chime job` and `chime run` share, as their usage text ends them. */
export const READ_COMMAND_FLAGS = `flags:
  --server URLS  nodes' APIs, comma-separated, tried in order (default $CHIME_SERVER, else the
                 chime dev cluster of this directory, else http://127.0.0.1:8400)
  -o FORMAT      table (default), wide, json or yaml (--json is -o json)
  --utc          times in UTC instead of local time with the zone
  --stale        read from the node's local state (no linearizable read)
`;
