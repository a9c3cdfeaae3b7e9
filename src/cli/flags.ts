// Flag parsing for every command: node's parseArgs with its errors turned into one line that
// names the command and, for a mistyped flag or command, suggests the nearest known one.
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { UsageError, errorMessage } from './usage.js';

/** Edit distance (insert, delete, substitute, swap of neighbours), for "did you mean". */
export function distance(a: string, b: string): number {
  const d: number[][] = Array.from({ length: a.length + 1 }, (_, i) => Array.from({ length: b.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)));
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const row = d[i] ?? [];
      const up = d[i - 1] ?? [];
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let best = Math.min((up[j] ?? 0) + 1, (row[j - 1] ?? 0) + 1, (up[j - 1] ?? 0) + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) best = Math.min(best, (d[i - 2]?.[j - 2] ?? 0) + 1);
      row[j] = best;
    }
  }
  return d[a.length]?.[b.length] ?? Math.max(a.length, b.length);
}

/** The known word nearest to `word`, if it is near enough to be a typo. */
export function nearest(word: string, known: readonly string[]): string | null {
  let best: string | null = null;
  let bestDistance = Infinity;
  for (const candidate of known) {
    const dist = distance(word.toLowerCase(), candidate.toLowerCase());
    if (dist < bestDistance) [best, bestDistance] = [candidate, dist];
  }
  return best !== null && bestDistance <= Math.max(1, Math.floor(word.length / 3)) ? best : null;
}

export function suggestion(word: string, known: readonly string[]): string {
  const near = nearest(word, known);
  return near === null ? '' : ` (did you mean ${near}?)`;
}

type Options = NonNullable<ParseArgsConfig['options']>;

/** parseArgs for `command`; a bad flag is a UsageError of one line naming it (and a near flag). */
export function parseFlags<O extends Options>(command: string, args: string[], options: O, allowPositionals = true) {
  try {
    return parseArgs({ args, options, allowPositionals, strict: true });
  } catch (error) {
    const code: unknown = error instanceof Error ? Reflect.get(error, 'code') : undefined;
    const message = errorMessage(error);
    const quoted = /'(-{1,2}[^' ]+)/.exec(message)?.[1] ?? '';
    const flags = Object.entries(options).flatMap(([name, o]) => [`--${name}`, ...(typeof o.short === 'string' ? [`-${o.short}`] : [])]);
    if (code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION') throw new UsageError(`${command}: unknown flag ${quoted}${suggestion(quoted, flags)} (see chime ${command} --help)`);
    if (code === 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE') throw new UsageError(`${command}: ${message.replace(/^Option '([^' ]+)[^']*' argument missing$/, '$1 needs a value').replace(/^Option '([^']+)' does not take an argument$/, '$1 takes no value')}`);
    if (code === 'ERR_PARSE_ARGS_UNEXPECTED_POSITIONAL') throw new UsageError(`${command}: unexpected argument ${/'([^']*)'/.exec(message)?.[1] ?? ''} (see chime ${command} --help)`);
    throw new UsageError(`${command}: ${message.split('.')[0]}`);
  }
}
