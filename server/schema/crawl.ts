import { assertCrawlableUrl } from '../jobs/crawl/address.ts';
import { crawlLimits, parseCrawlInput } from '../jobs/crawl/input.ts';
import { builder } from './builder.ts';
import { ExecutionRef } from './execution.ts';

const StartCrawlInput = builder.inputType('StartCrawlInput', {
  fields: (t) => ({
    url: t.string({ required: true, description: 'http(s) only' }),
    maxDepth: t.int({ description: 'Link hops from the start page; default 2' }),
    maxPages: t.int({ description: 'Default 100' }),
    includePatterns: t.stringList({ description: 'URL globs; when given, a URL must match one' }),
    excludePatterns: t.stringList(),
    respectRobotsTxt: t.boolean({ description: 'Default true' }),
    sessionId: t.id(),
  }),
});

builder.mutationField('startCrawl', (t) =>
  t.field({
    type: ExecutionRef,
    description: 'Queues a crawl of a web site into the knowledge base; watch it with jobProgress',
    args: { input: t.arg({ type: StartCrawlInput, required: true }) },
    resolve: async (_, { input }, ctx) => {
      const raw = { ...input, sessionId: input.sessionId == null ? null : String(input.sessionId) };
      const crawl = parseCrawlInput(raw, crawlLimits(ctx.config));
      await assertCrawlableUrl(crawl.url, ctx.config.allowPrivateNetworks);
      return ctx.engine.submit({
        kind: 'CRAWL',
        title: crawl.url,
        sessionId: crawl.sessionId,
        input: crawl,
        createdBy: ctx.actor,
      });
    },
  }),
);
