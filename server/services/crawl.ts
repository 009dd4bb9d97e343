import type { Execution } from '../executions/types.ts';
import { assertCrawlableUrl } from '../jobs/crawl/address.ts';
import { crawlLimits, parseCrawlInput, type StartCrawlInputRaw } from '../jobs/crawl/input.ts';
import { checkNoNulIn } from './arguments.ts';
import type { ServiceContext } from './context.ts';
import { checkPriority } from './executions.ts';

/** Validates a crawl request (its input, then its target address) and queues it. */
export async function startCrawl(
  ctx: ServiceContext,
  input: Omit<StartCrawlInputRaw, 'sessionId'> & { sessionId?: string | number | null; priority?: number | null },
): Promise<Execution> {
  checkNoNulIn(input);
  const { priority, ...rest } = input;
  const checkedPriority = checkPriority(priority);
  const raw = { ...rest, sessionId: input.sessionId == null ? null : String(input.sessionId) };
  const crawl = parseCrawlInput(raw, crawlLimits(ctx.config));
  await assertCrawlableUrl(crawl.url, ctx.config.allowPrivateNetworks);
  return ctx.engine.submit({
    kind: 'CRAWL',
    title: crawl.url,
    sessionId: crawl.sessionId,
    input: crawl,
    createdBy: ctx.actor,
    priority: checkedPriority,
  });
}
