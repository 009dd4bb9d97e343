import { ACTIVE_STATUSES } from '../executions/status.ts';
import type { Execution } from '../executions/types.ts';
import { NotFoundError } from '../lib/errors.ts';
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

/** Cancels the active crawls of a source (their later writes are fenced off), then deletes it. */
export async function deleteSource(ctx: ServiceContext, rawId: string | number): Promise<DeleteOutcome> {
  const id = checkId(rawId);
  const source = await ctx.store.knowledge.getSource(id);
  if (!source) throw new NotFoundError(`no knowledge source has id "${id}"`);
  const crawls = await ctx.store.listExecutions({ kind: 'CRAWL', statuses: ACTIVE_STATUSES, oldestFirst: true });
  const ofSource = crawls.filter((e) => originOf(e) === source.url);
  const outcomes = await Promise.all(ofSource.map((e) => ctx.engine.cancel(e.id, DELETE_REASON, ctx.actor)));
  const deleted = await ctx.store.knowledge.deleteSource(id);
  return { deleted, cancelledExecutions: outcomes.filter((o) => o.accepted).length };
}
