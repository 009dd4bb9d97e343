// The `sluice` command line: picks the command, runs it, and turns errors into exit codes.
import { UsageError } from './args.ts';
import { cancel } from './commands/cancel.ts';
import { crawl } from './commands/crawl.ts';
import { ls } from './commands/ls.ts';
import { pause, resume } from './commands/pause.ts';
import { watch } from './commands/watch.ts';
import { createContext, type Context, type Output } from './context.ts';
import { report } from './errors.ts';
import { ExitCode } from './exit-codes.ts';
import { USAGE, type CommandName } from './help.ts';

const COMMANDS: Record<CommandName, (args: string[], ctx: Context) => Promise<number>> = { crawl, ls, cancel, pause, resume, watch };

export interface Io {
  stdout: Output;
  stderr: Output;
  env: NodeJS.ProcessEnv;
  /** Aborted on Ctrl-C. */
  signal: AbortSignal;
}

/** Runs `sluice <argv...>`; resolves to the exit code. */
export async function main(argv: string[], io: Io): Promise<number> {
  const [name, ...args] = argv;
  if (name === '--help' || name === '-h' || name === 'help') {
    io.stdout.write(USAGE);
    return ExitCode.SUCCEEDED;
  }
  const ctx = createContext(io);
  try {
    if (name === undefined) throw new UsageError('missing the command (crawl, ls, cancel, pause, resume or watch)');
    if (!Object.hasOwn(COMMANDS, name)) throw new UsageError(`unknown command "${name}"; the commands are crawl, ls, cancel, pause, resume and watch`);
    return await COMMANDS[name as CommandName](args, ctx);
  } catch (error) {
    return report(error, ctx);
  } finally {
    await ctx.close();
  }
}
