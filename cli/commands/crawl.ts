// sluice crawl <url>: startCrawl, then print the id or (--follow) watch it to the end.
import { commandHelp, intOption, onePositional, parseCommand, UsageError } from '../args.ts';
import type { Context } from '../context.ts';
import { START_CRAWL } from '../execution.ts';
import { ExitCode } from '../exit-codes.ts';
import { follow } from './watch.ts';


/** Runs `sluice crawl`. */
export async function crawl(args: string[], ctx: Context): Promise<number> {
  const { values, positionals } = parseCommand('crawl', args, {
    follow: { type: 'boolean' },
    depth: { type: 'string' },
    'max-pages': { type: 'string' },
    include: { type: 'string', multiple: true },
    exclude: { type: 'string', multiple: true },
    'no-robots': { type: 'boolean' },
    session: { type: 'string' },
    priority: { type: 'string' },
    'time-limit': { type: 'string' },
    json: { type: 'boolean' },
  });
  if (values.help) {
    ctx.stdout.write(commandHelp('crawl'));
    return ExitCode.SUCCEEDED;
  }
  const url = onePositional('crawl', positionals, 'the URL to crawl');
  if (!/^https?:\/\//i.test(url)) throw new UsageError(`the URL must start with http:// or https://; it is "${url}"`, 'crawl');
  const input = {
    url,
    maxDepth: intOption('crawl', 'depth', values.depth, 0, 20),
    maxPages: intOption('crawl', 'max-pages', values['max-pages'], 1, 10_000),
    includePatterns: values.include,
    excludePatterns: values.exclude,
    respectRobotsTxt: values['no-robots'] ? false : undefined,
    sessionId: values.session,
    priority: intOption('crawl', 'priority', values.priority, -10, 10),
    timeLimitSeconds: intOption('crawl', 'time-limit', values['time-limit'], 1, 24 * 60 * 60),
  };

  const api = ctx.api(values.url);
  const { startCrawl: execution } = await api.request(START_CRAWL, { input });
  if (values.json) ctx.stdout.write(`${JSON.stringify(execution)}\n`);
  else if (values.follow) ctx.stdout.write(`Crawl ${execution.id} started: ${execution.title}\n`);
  else {
    // The id alone on stdout, so `id=$(sluice crawl ...)` works; the hints go to stderr.
    ctx.stdout.write(`${execution.id}\n`);
    ctx.stderr.write(`Crawl of ${execution.title} is ${execution.status}. Watch it: sluice watch ${execution.id}   Stop it: sluice cancel ${execution.id}\n`);
  }
  if (!values.follow) return ExitCode.SUCCEEDED;
  return follow(api, ctx, { execution, afterSeq: 0, json: values.json ?? false });
}
