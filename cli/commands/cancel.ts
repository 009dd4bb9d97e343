// sluice cancel <id> | --session <id>: cancelExecution / cancelExecutions, and what came of it.
import { commandHelp, kindOption, parseCommand, UsageError } from '../args.ts';
import type { Context } from '../context.ts';
import { CANCEL_MANY, CANCEL_ONE, type CancelResult } from '../execution.ts';
import { ExitCode } from '../exit-codes.ts';

/** Runs `sluice cancel`. */
export async function cancel(args: string[], ctx: Context): Promise<number> {
  const { values, positionals } = parseCommand('cancel', args, {
    reason: { type: 'string' },
    session: { type: 'string' },
    kind: { type: 'string' },
    json: { type: 'boolean' },
  });
  if (values.help) {
    ctx.stdout.write(commandHelp('cancel'));
    return ExitCode.SUCCEEDED;
  }
  if (positionals.length > 1) throw new UsageError(`unexpected argument "${positionals[1]}"`, 'cancel');
  const id = positionals[0];
  if (id !== undefined && values.session !== undefined) throw new UsageError('give an execution id or --session, not both', 'cancel');
  if (id === undefined && values.session === undefined) throw new UsageError('missing the execution id (or --session <id>)', 'cancel');
  if (id !== undefined && values.kind !== undefined) throw new UsageError('--kind goes with --session', 'cancel');
  const api = ctx.api(values.url);

  if (id !== undefined) {
    const { cancelExecution: result } = await api.request(CANCEL_ONE, { id, reason: values.reason });
    ctx.stdout.write(values.json ? `${JSON.stringify(result)}\n` : `${describeOne(result)}\n`);
    return ExitCode.SUCCEEDED;
  }
  const variables = { sessionId: values.session, kind: kindOption('cancel', values.kind), reason: values.reason };
  const { cancelExecutions: result } = await api.request(CANCEL_MANY, variables);
  if (values.json) ctx.stdout.write(`${JSON.stringify(result)}\n`);
  else {
    const lines = result.executions.map((e) => `  ${e.id}  ${e.kind}  ${e.status}  ${e.title}`);
    ctx.stdout.write([`Cancelled ${result.cancelled} execution${result.cancelled === 1 ? '' : 's'} of session ${values.session}.`, ...lines].join('\n') + '\n');
  }
  return ExitCode.SUCCEEDED;
}

function describeOne({ accepted, execution: e }: CancelResult): string {
  if (!accepted) return `Not cancelled: ${e.id} had already ended ${e.status}.`;
  const stopping = e.status === 'CANCELLED' ? 'it is CANCELLED' : `it is ${e.status} and stops within seconds (sluice watch ${e.id} shows when)`;
  return `Cancel accepted for ${e.id}: ${stopping}.`;
}
