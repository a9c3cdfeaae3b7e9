// Command-line options of the test and bench programs (npm run sim, bench:*, mutate, …).
import { parseArgs, type ParseArgsConfig } from 'node:util';

type Options = NonNullable<ParseArgsConfig['options']>;

/** One usage line made from the options themselves, so it never names a flag that is gone. */
export function usageOf(command: string, options: Options): string {
  const flags = Object.entries(options).map(([name, option]) => {
    if (option.type === 'boolean') return `[--${name}]`;
    const value = option.default === undefined ? 'VALUE' : String(option.default);
    return `[--${name} ${value}${option.multiple === true ? ' ...' : ''}]`;
  });
  return `usage: ${command} ${flags.join(' ')}`;
}

/**
 * parseArgs for these programs: `--help` prints the usage (from the options, defaults as
 * values) and exits 0; an unknown or malformed option prints one line to stderr and exits 2,
 * not a stack trace. The usage comes back too, for a program's own checks of the values.
 */
export function cliArgs<T extends ParseArgsConfig & { readonly options: Options }>(command: string, config: T): ReturnType<typeof parseArgs<T>> & { readonly usage: string } {
  const usage = usageOf(command, config.options);
  const argv = config.args ?? process.argv.slice(2);
  if (argv.some((arg) => arg === '--help' || arg === '-h')) {
    console.log(usage);
    process.exit(0);
  }
  try {
    return { ...parseArgs(config), usage };
  } catch (error) {
    console.error(`${error instanceof Error ? error.message : String(error)}; ${usage}`);
    process.exit(2);
  }
}
