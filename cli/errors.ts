// Turns what went wrong into a message on stderr that says what to do next, and an exit code.
import { ApiError } from './api.ts';
import { commandHelp, UsageError } from './args.ts';
import type { Context } from './context.ts';
import { ExitCode, exitCodeForError } from './exit-codes.ts';

const NEXT_STEP: Record<string, string> = {
  UNREACHABLE: 'Is the server running? Point SLUICE_URL (or --url) at it.',
  BAD_RESPONSE: 'Is SLUICE_URL (or --url) the address of the Sluice server?',
  UNAUTHENTICATED: 'Set SLUICE_TOKEN to an API token of this server (one of its SLUICE_API_TOKENS).',
  FORBIDDEN: 'The token in SLUICE_TOKEN lacks the scope this needs: read (ls, watch), execute (crawl), cancel (cancel).',
  NOT_FOUND: 'List executions with: sluice ls --all',
  BAD_USER_INPUT: 'Fix the input and try again (sluice --help shows the options).',
};

const OWN_CODES = new Set(['UNREACHABLE', 'BAD_RESPONSE', 'INTERNAL']);

/** Prints `error` to stderr and returns the exit code it means. */
export function report(error: unknown, ctx: Context): number {
  if (ctx.signal.aborted) {
    // A request cut short may still have reached the server (a crawl may have started).
    ctx.stderr.write('sluice: interrupted; `sluice ls` shows what is running.\n');
    return ExitCode.INTERRUPTED_BY_USER;
  }
  if (error instanceof UsageError) {
    const usage = error.command ? commandHelp(error.command) : 'Run `sluice --help` for usage.\n';
    ctx.stderr.write(`sluice: ${error.message}\n\n${usage}`);
    return ExitCode.USAGE;
  }
  if (error instanceof ApiError) {
    const next = NEXT_STEP[error.code];
    // The server's own codes are worth showing (they are what its docs and logs speak of); ours are not.
    const code = OWN_CODES.has(error.code) ? '' : ` (${error.code})`;
    ctx.stderr.write(`sluice: ${error.message}${code}\n${next ? `${next}\n` : ''}`);
    return exitCodeForError(error.code);
  }
  ctx.stderr.write(`sluice: unexpected error: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  return ExitCode.FAILED;
}
