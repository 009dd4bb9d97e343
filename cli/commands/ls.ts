// sluice ls: active executions (or --all: history) as a table or JSON.
import { commandHelp, intOption, kindOption, parseCommand, UsageError } from '../args.ts';
import type { Context } from '../context.ts';
import { ACTIVE, HISTORY, type Execution } from '../execution.ts';
import { ExitCode } from '../exit-codes.ts';
import { formatAge, formatPercent, table } from '../render.ts';


/** Runs `sluice ls`. */
export async function ls(args: string[], ctx: Context): Promise<number> {
  const { values, positionals } = parseCommand('ls', args, {
    all: { type: 'boolean' },
    limit: { type: 'string' },
    kind: { type: 'string' },
    session: { type: 'string' },
    json: { type: 'boolean' },
  });
  if (values.help) {
    ctx.stdout.write(commandHelp('ls'));
    return ExitCode.SUCCEEDED;
  }
  if (positionals.length) throw new UsageError(`unexpected argument "${positionals[0]}"`, 'ls');
  if (values.limit !== undefined && !values.all) throw new UsageError('--limit goes with --all', 'ls');
  const variables = {
    kind: kindOption('ls', values.kind),
    sessionId: values.session,
    limit: intOption('ls', 'limit', values.limit, 1, 500),
  };
  const api = ctx.api(values.url);
  const executions = values.all
    ? (await api.request(HISTORY, variables)).executions
    : (await api.request(ACTIVE, variables)).activeExecutions;

  if (values.json) ctx.stdout.write(`${JSON.stringify(executions, null, 2)}\n`);
  else if (executions.length === 0) ctx.stdout.write(values.all ? 'No executions.\n' : 'No active executions. (sluice ls --all shows the history.)\n');
  else ctx.stdout.write(`${executionTable(executions, Date.now(), ctx.stdout.isTTY ? ctx.stdout.columns : undefined)}\n`);
  return ExitCode.SUCCEEDED;
}

/** The table of `sluice ls`: id, kind, status, percent, pages, age, title. */
export function executionTable(executions: Execution[], now: number, width?: number): string {
  const rows = executions.map((e) => [
    e.id,
    e.kind,
    e.status,
    formatPercent(e.progress.percent),
    `${e.progress.pagesFetched}/${e.progress.pagesDiscovered}`,
    formatAge(now - Date.parse(e.createdAt)),
    e.title,
  ]);
  return table(['ID', 'KIND', 'STATUS', 'PERCENT', 'PAGES', 'AGE', 'TITLE'], rows, width);
}
