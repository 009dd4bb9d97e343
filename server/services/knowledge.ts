import { ACTIVE_STATUSES } from '../executions/status.ts';
import type { Execution } from '../executions/types.ts';
import { ConflictError, NotFoundError } from '../lib/errors.ts';
import type { KnowledgeHit, KnowledgeSource } from '../store/knowledge-records.ts';
import { checkId, checkLimit, checkText } from './arguments.ts';
import type { ServiceContext } from './context.ts';

export const MAX_QUERY_LENGTH = 500;
export const MAX_LIMIT = 50;
export const DEFAULT_LIMIT = 10;
export const DELETE_REASON = 'its knowledge source was deleted';

export interface DeleteOutcome {
  deleted: boolean;
  cancelledExecutions: number;
}

/** Every crawled site, the most recently crawled first. */
export function listSources(ctx: ServiceContext): Promise<KnowledgeSource[]> {
  return ctx.store.knowledge.listSources();
}

/** Ranked passages for the caller's words, best first. */
export function searchKnowledge(ctx: ServiceContext, args: { query: string; limit?: number | null }): Promise<KnowledgeHit[]> {
  const limit = checkLimit(args.limit, DEFAULT_LIMIT, MAX_LIMIT);
  return ctx.store.knowledge.search(checkText(args.query, 'query', MAX_QUERY_LENGTH), limit);
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

/** How many times deleteSource looks again for a crawl of the site that started while it deleted. */
const DELETE_ROUNDS = 5;

async function activeCrawlsOf(ctx: ServiceContext, origin: string): Promise<Execution[]> {
  const crawls = await ctx.store.listExecutions({ kind: 'CRAWL', statuses: ACTIVE_STATUSES, oldestFirst: true });
  return crawls.filter((e) => originOf(e) === origin);
}

/**
 * Cancels the active crawls of a source (their later writes are fenced off), then deletes it. A crawl
 * of the same site started meanwhile (after the list, before the delete) would otherwise run on and
 * write the site back with only the pages it stored after the delete: so look again after each
 * delete, cancel what is new and delete once more, until a look finds nothing new.
 */
export async function deleteSource(ctx: ServiceContext, rawId: string | number): Promise<DeleteOutcome> {
  const id = checkId(rawId);
  const source = await ctx.store.knowledge.getSource(id);
  if (!source) throw new NotFoundError(`no knowledge source has id "${id}"`);
  const stopped = new Set<string>();
  let cancelledExecutions = 0;
  let deleted = false;
  for (let round = 0; ; round++) {
    const fresh = (await activeCrawlsOf(ctx, source.url)).filter((e) => !stopped.has(e.id));
    if (round > 0 && fresh.length === 0) break;
    if (round === DELETE_ROUNDS) {
      throw new ConflictError(`crawls of ${source.url} keep starting while its source is deleted; stop starting them, then delete it again`);
    }
    for (const e of fresh) stopped.add(e.id);
    const outcomes = await Promise.all(fresh.map((e) => ctx.engine.cancel(e.id, DELETE_REASON, ctx.actor)));
    cancelledExecutions += outcomes.filter((o) => o.accepted).length;
    // A crawl that raced the first pass wrote the site back as a new source (a new id): delete that one.
    const target = round === 0 ? id : (await ctx.store.knowledge.listSources()).find((s) => s.url === source.url)?.id;
    if (target !== undefined && (await ctx.store.knowledge.deleteSource(target))) deleted = true;
  }
  return { deleted, cancelledExecutions };
}
