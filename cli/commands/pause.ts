// sluice pause <id>... | --session <id> and sluice resume <id>... | --session <id>: pauseExecution(s)
// and resumeExecution(s), and what came of them.
import { commandHelp, kindOption, parseCommand, UsageError } from '../args.ts';
import type { Context } from '../context.ts';
import { PAUSE_MANY, PAUSE_ONE, RESUME_MANY, RESUME_ONE, type Execution } from '../execution.ts';
import { ExitCode } from '../exit-codes.ts';
import type { CommandName } from '../help.ts';

/** Runs `sluice pause`. */
export function pause(args: string[], ctx: Context): Promise<number> {
  return control('pause', args, ctx);
}

/** Runs `sluice resume`. */
export function resume(args: string[], ctx: Context): Promise<number> {
  return control('resume', args, ctx);
}

async function control(command: Extract<CommandName, 'pause' | 'resume'>, args: string[], ctx: Context): Promise<number> {
  const { values, positionals } = parseCommand(command, args, {
    ...(command === 'pause' ? { reason: { type: 'string' } } : {}),
    session: { type: 'string' },
    kind: { type: 'string' },
    json: { type: 'boolean' },
  } as const);
  if (values.help) {
    ctx.stdout.write(commandHelp(command));
    return ExitCode.SUCCEEDED;
  }
  const reason = (values as { reason?: string }).reason;
  if (positionals.length > 0 && values.session !== undefined) throw new UsageError('give execution ids or --session, not both', command);
  if (positionals.length === 0 && values.session === undefined) throw new UsageError('missing the execution id (or --session <id>)', command);
  if (positionals.length === 1 && values.kind !== undefined) throw new UsageError('--kind goes with several ids or --session', command);
  const api = ctx.api(values.url);

  if (positionals.length === 1) {
    const id = positionals[0]!;
    const execution =
      command === 'pause'
        ? (await api.request(PAUSE_ONE, { id, reason })).pauseExecution
        : (await api.request(RESUME_ONE, { id })).resumeExecution;
    ctx.stdout.write(values.json ? `${JSON.stringify(execution)}\n` : `${describeOne(command, execution)}\n`);
    return ExitCode.SUCCEEDED;
  }
  const filter = {
    ids: positionals.length > 0 ? positionals : undefined,
    sessionId: values.session,
    kind: kindOption(command, values.kind),
  };
  const result =
    command === 'pause'
      ? (await api.request(PAUSE_MANY, { ...filter, reason })).pauseExecutions
      : (await api.request(RESUME_MANY, filter)).resumeExecutions;
  if (values.json) ctx.stdout.write(`${JSON.stringify(result)}\n`);
  else {
    const done = command === 'pause' ? 'Paused' : 'Resumed';
    const of = values.session !== undefined ? ` of session ${values.session}` : '';
    const lines = result.executions.map((e) => `  ${e.id}  ${e.kind}  ${e.status}  ${e.title}`);
    ctx.stdout.write([`${done} ${result.affected} execution${result.affected === 1 ? '' : 's'}${of}.`, ...lines].join('\n') + '\n');
  }
  return ExitCode.SUCCEEDED;
}

function describeOne(command: 'pause' | 'resume', e: Execution): string {
  if (command === 'pause') return `Paused ${e.id}: it is ${e.status}, its checkpoint kept (sluice resume ${e.id} continues it).`;
  return `Resumed ${e.id}: it is ${e.status} (attempt ${e.attempt}) and continues from its checkpoint (sluice watch ${e.id} follows it).`;
}
