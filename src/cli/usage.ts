/** A usage error: printed as one line to stderr, exit code 2. */
export class UsageError extends Error {}

/** An operation that failed: printed as one line to stderr, exit code 1. */
export class OperationError extends Error {}

/** The message of anything thrown: an Error's own, else the value as text. */
export function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

export function serverUrl(flag: string | undefined): string {
  const url = flag ?? process.env['CHIME_SERVER'] ?? 'http://127.0.0.1:8400';
  try {
    return new URL(url).toString().replace(/\/$/, '');
  } catch {
    throw new UsageError(`--server: not a URL: ${url}`);
  }
}

/** The flags `chime job` and `chime run` share, as their usage text ends them. */
export const READ_COMMAND_FLAGS = `flags:
  --server URL   a node's API (default $CHIME_SERVER or http://127.0.0.1:8400)
  -o FORMAT      table (default), wide, json or yaml (--json is -o json)
  --utc          times in UTC instead of local time with the zone
  --stale        read from the node's local state (no linearizable read)
`;
