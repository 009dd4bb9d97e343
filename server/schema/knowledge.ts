import { badInput, notFound } from '../errors.ts';
import { ACTIVE_STATUSES } from '../executions/status.ts';
import type { Execution } from '../executions/types.ts';
import type { KnowledgeHit, KnowledgeSource } from '../store/knowledge-records.ts';
import { builder, type Context } from './builder.ts';
import { checkId } from '../services/arguments.ts';
import { ExecutionRef } from './execution.ts';

const MAX_QUERY_LENGTH = 500;
const MAX_LIMIT = 50;
const DEFAULT_LIMIT = 10;
const DELETE_REASON = 'its knowledge source was deleted';

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
      resolve: (s, _, ctx) => (s.lastExecutionId ? ctx.store.getExecution(s.lastExecutionId) : null),
    }),
  }),
});

interface DeleteOutcome {
  deleted: boolean;
  cancelledExecutions: number;
}

const DeleteKnowledgeSourceResultRef = builder.objectRef<DeleteOutcome>('DeleteKnowledgeSourceResult').implement({
  fields: (t) => ({
    deleted: t.exposeBoolean('deleted'),
    cancelledExecutions: t.exposeInt('cancelledExecutions', { description: 'Crawls of the source that were running and were cancelled first' }),
  }),
});

function checkQuery(query: string): string {
  const text = query.trim();
  if (!text) throw badInput('query must not be empty', 'query');
  if (query.length > MAX_QUERY_LENGTH) throw badInput(`query must be at most ${MAX_QUERY_LENGTH} characters`, 'query');
  return text;
}

function originOf(execution: Execution): string | null {
  const url = (execution.input as { url?: unknown } | null)?.url;
  if (typeof url !== 'string') return null;
  try {
    return new URL(url).origin;
  } catch {
    return null;
  }
}

/** Cancels the active crawls of a source (their later writes are fenced off), then deletes it. */
async function deleteSource(id: string, ctx: Context): Promise<DeleteOutcome> {
  const source = await ctx.store.getSource(id);
  if (!source) throw notFound(`no knowledge source has id "${id}"`);
  const crawls = await ctx.store.listExecutions({ kind: 'CRAWL', statuses: ACTIVE_STATUSES, oldestFirst: true });
  const ofSource = crawls.filter((e) => originOf(e) === source.url);
  const outcomes = await Promise.all(ofSource.map((e) => ctx.engine.cancel(e.id, DELETE_REASON, ctx.actor)));
  const deleted = await ctx.store.deleteSource(id);
  return { deleted, cancelledExecutions: outcomes.filter((o) => o.accepted).length };
}

builder.queryFields((t) => ({
  searchKnowledge: t.field({
    type: [KnowledgeHitRef],
    description:
      'Full-text search of the crawled pages, best first, one hit per page. The query is plain words: any search ' +
      `syntax in it is ignored. 1..${MAX_QUERY_LENGTH} characters; limit 1..${MAX_LIMIT}, default ${DEFAULT_LIMIT}.`,
    args: { query: t.arg.string({ required: true }), limit: t.arg.int() },
    resolve: (_, args, ctx) => {
      const limit = args.limit ?? DEFAULT_LIMIT;
      if (limit < 1 || limit > MAX_LIMIT) throw badInput(`limit must be between 1 and ${MAX_LIMIT}`, 'limit');
      return ctx.store.searchKnowledge(checkQuery(args.query), limit);
    },
  }),
  knowledgeSources: t.field({
    type: [KnowledgeSourceRef],
    description: 'Every crawled site, the most recently crawled first',
    resolve: (_, __, ctx) => ctx.store.listSources(),
  }),
}));

builder.mutationField('deleteKnowledgeSource', (t) =>
  t.field({
    type: DeleteKnowledgeSourceResultRef,
    description:
      'Deletes a source with its pages and passages. Crawls of it still running are cancelled first (reason ' +
      `"${DELETE_REASON}"), so none of them can store a page afterwards. Unknown id: NOT_FOUND.`,
    args: { id: t.arg.id({ required: true }) },
    resolve: (_, args, ctx) => deleteSource(checkId(args.id), ctx),
  }),
);
