// The CLI's credentials, taken once for the whole command: `--token TOKEN` (or CHIME_TOKEN,
// else the token `chime dev` wrote in this directory) and `--ca FILE` (or CHIME_CA) for
// https:// servers. Both flags may stand anywhere after the command and are taken out before
// the command parses its own flags.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ClientCredentials } from './http-client.js';
import { UsageError, errorMessage } from './usage.js';

/** Where `chime dev` writes the admin token of its cluster, relative to the directory it ran in. */
export const DEV_TOKEN_FILE = join('.chime-dev', 'admin.token');

export const CREDENTIAL_FLAGS_HELP = `  --token TOKEN  API token (default $CHIME_TOKEN, else the chime dev cluster's, .chime-dev/admin.token)
  --ca FILE      CA certificate(s) to verify https:// servers with (default $CHIME_CA)
`;

function readText(path: string, what: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (error) {
    throw new UsageError(`${what}: cannot read ${path}: ${errorMessage(error)}`);
  }
}

function devToken(): string | null {
  try {
    const token = readFileSync(DEV_TOKEN_FILE, 'utf8').trim();
    return token === '' ? null : token;
  } catch {
    return null;
  }
}

/** The arguments without --token/--ca, and the credentials they (or the environment) name. */
export function takeCredentials(args: readonly string[], env: NodeJS.ProcessEnv = process.env): { args: string[]; credentials: ClientCredentials } {
  const rest: string[] = [];
  let token: string | undefined;
  let caFile: string | undefined;
  for (let i = 0; i < args.length; i++) {
    const arg = args[i] ?? '';
    if (arg === '--') {
      rest.push(...args.slice(i));
      break;
    }
    const m = /^--(token|ca)(?:=(.*))?$/.exec(arg);
    if (m === null) {
      rest.push(arg);
      continue;
    }
    const value = m[2] ?? args[++i];
    if (value === undefined || value === '') throw new UsageError(`--${m[1]} needs a value`);
    if (m[1] === 'token') token = value;
    else caFile = value;
  }
  const chosenToken = token ?? (env['CHIME_TOKEN'] !== undefined && env['CHIME_TOKEN'] !== '' ? env['CHIME_TOKEN'] : devToken());
  const chosenCa = caFile ?? (env['CHIME_CA'] !== undefined && env['CHIME_CA'] !== '' ? env['CHIME_CA'] : undefined);
  const ca = chosenCa === undefined ? null : readText(chosenCa, '--ca');
  if (ca !== null && !ca.includes('-----BEGIN CERTIFICATE-----')) throw new UsageError(`--ca: ${chosenCa} holds no PEM certificate`);
  if (chosenToken !== null && /[\s]/.test(chosenToken.trim())) throw new UsageError('--token: a token has no spaces or line breaks');
  return { args: rest, credentials: { token: chosenToken === null ? null : chosenToken.trim(), ca } };
}
