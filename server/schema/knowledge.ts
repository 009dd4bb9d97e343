import {
  DEFAULT_LIMIT,
  DELETE_REASON,
  deleteSource,
  listSources,
  MAX_LIMIT,
  MAX_QUERY_LENGTH,
  searchKnowledge,
  type DeleteOutcome,
} from '../services/knowledge.ts';
import { linkedExecution } from '../services/executions.ts';
import type { KnowledgeHit, KnowledgeSource } from '../store/knowledge-records.ts';
import { builder } from './builder.ts';
import { ExecutionRef } from './execution.ts';

const KnowledgeHitRef = builder.objectRef<KnowledgeHit>('KnowledgeHit').implement({
  description: 'A page of the knowledge base that matches a search, with its best passage',
  fields: (t) => ({
    url: t.exposeString('url'),
    title: t.exposeString('title'),
    heading: t.exposeString('heading', { nullable: true, description: 'The heading path of the passage ("Guide > Install")' }),
    snippet: t.exposeString('snippet', {
      description:
        'The matching passage. Each matched term is wrapped in « and » for highlighting (a « or » in the page text itself ' +
        'is shown as ‹ or ›); … marks text left out.',
    }),
    score: t.exposeFloat('score', { description: 'Relevance (bm25, headings weighted up): higher is better; compare within one search only' }),
  }),
});

const KnowledgeSourceRef = builder.objectRef<KnowledgeSource>('KnowledgeSource').implement({
  description: 'One crawled site of the knowledge base (the origin of the crawls that stored its pages)',
  fields: (t) => ({
    id: t.exposeID('id'),
    url: t.exposeString('url', { description: 'The origin, e.g. https://docs.example.com' }),
    title: t.exposeString('title'),
    pages: t.exposeInt('pages'),
    chunks: t.exposeInt('chunks', { description: 'Passages indexed for search' }),
    lastCrawledAt: t.field({ type: 'DateTime', nullable: true, resolve: (s) => s.lastCrawledAt }),
    lastExecutionId: t.exposeID('lastExecutionId', { nullable: true }),
    lastExecution: t.field({
      type: ExecutionRef,
      nullable: true,
      description: 'The crawl that last stored a page of it',
      resolve: (s, _, ctx) => linkedExecution(ctx, s.lastExecutionId),
    }),
  }),
});

const DeleteKnowledgeSourceResultRef = builder.objectRef<DeleteOutcome>('DeleteKnowledgeSourceResult').implement({
  fields: (t) => ({
    deleted: t.exposeBoolean('deleted'),
    cancelledExecutions: t.exposeInt('cancelledExecutions', { description: 'Crawls of the source that were running and were cancelled first' }),
  }),
});

builder.queryFields((t) => ({
  searchKnowledge: t.field({
    type: [KnowledgeHitRef],
    description:
      'Full-text search of the crawled pages, best first, one hit per page. The query is plain words: any search ' +
      `syntax in it is ignored. 1..${MAX_QUERY_LENGTH} characters; limit 1..${MAX_LIMIT}, default ${DEFAULT_LIMIT}.`,
    args: { query: t.arg.string({ required: true }), limit: t.arg.int() },
    resolve: (_, args, ctx) => searchKnowledge(ctx, args),
  }),
  knowledgeSources: t.field({
    type: [KnowledgeSourceRef],
    description: 'Every crawled site, the most recently crawled first',
    resolve: (_, __, ctx) => listSources(ctx),
  }),
}));

builder.mutationField('deleteKnowledgeSource', (t) =>
  t.field({
    type: DeleteKnowledgeSourceResultRef,
    description:
      'Deletes a source with its pages and passages. Crawls of it still running are cancelled first (reason ' +
      `"${DELETE_REASON}"), so none of them can store a page afterwards. Unknown id: NOT_FOUND.`,
    args: { id: t.arg.id({ required: true }) },
    resolve: (_, args, ctx) => deleteSource(ctx, args.id),
  }),
);
