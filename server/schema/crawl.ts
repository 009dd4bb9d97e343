import { startCrawl } from '../services/crawl.ts';
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
    priority: t.int({ description: '-10..10, default 0: higher is claimed first, FIFO within a priority' }),
    timeLimitSeconds: t.int({ description: "The caller's own limit, within the operator's cap, counted across attempts; then it ends SUCCEEDED with what it has" }),
  }),
});

builder.mutationField('startCrawl', (t) =>
  t.field({
    type: ExecutionRef,
    description: 'Queues a crawl of a web site into the knowledge base; watch it with jobProgress',
    args: { input: t.arg({ type: StartCrawlInput, required: true }) },
    resolve: (_, { input }, ctx) => startCrawl(ctx, input),
  }),
);
