// Argument parsing shared by the commands (node:util parseArgs), and the usage error.
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { COMMAND_HELP, type CommandName } from './help.ts';

/** Bad command-line input: exit code 2, with the command's usage. */
export class UsageError extends Error {
  override readonly name = 'UsageError';
  constructor(
    message: string,
    readonly command?: CommandName,
  ) {
    super(message);
  }
}

type Options = NonNullable<ParseArgsConfig['options']>;

const GLOBAL_OPTIONS = {
  url: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const satisfies Options;

/** Parses a command's arguments with the global options added; throws UsageError on anything unknown. */
export function parseCommand<O extends Options>(command: CommandName, args: string[], options: O) {
  try {
    return parseArgs({ args, options: { ...GLOBAL_OPTIONS, ...options }, allowPositionals: true, strict: true });
  } catch (error) {
    throw new UsageError(error instanceof Error ? error.message : String(error), command);
  }
}

/** The command's help text, for --help. */
export function commandHelp(command: CommandName): string {
  return `Usage: ${COMMAND_HELP[command]}\n\nRun \`sluice --help\` for the options of every command and the exit codes.\n`;
}

/** An integer option within bounds, or undefined when not given. */
export function intOption(command: CommandName, name: string, raw: string | undefined, min: number, max: number): number | undefined {
  if (raw === undefined) return undefined;
  const value = Number(raw);
  if (!/^-?\d+$/.test(raw.trim()) || value < min || value > max)
    throw new UsageError(`--${name} must be a whole number from ${min} to ${max}; it is "${raw}"`, command);
  return value;
}

/** An execution kind option (CRAWL or CHAT, any case), or undefined when not given. */
export function kindOption(command: CommandName, raw: string | undefined): 'CRAWL' | 'CHAT' | undefined {
  if (raw === undefined) return undefined;
  const kind = raw.toUpperCase();
  if (kind !== 'CRAWL' && kind !== 'CHAT') throw new UsageError(`--kind must be CRAWL or CHAT; it is "${raw}"`, command);
  return kind;
}

/** Exactly one positional argument, named `what` in the message when it is missing. */
export function onePositional(command: CommandName, positionals: string[], what: string): string {
  if (positionals.length === 0) throw new UsageError(`missing ${what}`, command);
  if (positionals.length > 1) throw new UsageError(`unexpected argument "${positionals[1]}"`, command);
  return positionals[0]!;
}
