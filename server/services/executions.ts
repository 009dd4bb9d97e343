import type { BulkFilter, BulkOutcome, CancelOutcome } from '../engine/engine.ts';
import { latestChanges, replayThenLive } from '../engine/event-stream.ts';
import { ACTIVE_STATUSES, type ExecutionStatus } from '../executions/status.ts';
import { foldAscii, type Execution, type ExecutionEvent, type ExecutionKind } from '../executions/types.ts';
import type { ChatInput } from '../jobs/chat/chat-job.ts';
import { assertCrawlableUrl } from '../jobs/crawl/address.ts';
import { InputError, NotFoundError } from '../lib/errors.ts';
import type { StoredPage } from '../store/knowledge-records.ts';
import { checkId, checkLimit, checkNoNul, checkOptionalId } from './arguments.ts';
import { decodeCursor, encodeCursor } from './cursor.ts';
import { sendChatMessage } from './chat.ts';
import type { ServiceContext } from './context.ts';
import { startJobProgress } from './streams.ts';

const MAX_REASON_LENGTH = 1000;
const DEFAULT_HISTORY = 50;
const MAX_HISTORY = 500;

function checkReason(reason: string | null | undefined): string | null {
  if (reason == null) return null;
  checkNoNul(reason, 'reason');
  if (reason.length > MAX_REASON_LENGTH) throw new InputError(`reason must be at most ${MAX_REASON_LENGTH} characters`, 'reason');
  return reason;
}

interface Filter {
  kind?: ExecutionKind | null;
  sessionId?: string | number | null;
}

/** The filters of the bulk mutations: all active executions that match every one given. */
interface BulkArgs extends Filter {
  ids?: readonly (string | number)[] | null;
}

export const MIN_PRIORITY = -10;
export const MAX_PRIORITY = 10;
const MAX_IDS = 500;

/** A priority as given, or the default 0; BAD_USER_INPUT outside -10..10. */
export function checkPriority(priority: number | null | undefined, field = 'priority'): number {
  if (priority == null) return 0;
  if (!Number.isInteger(priority) || priority < MIN_PRIORITY || priority > MAX_PRIORITY) {
    throw new InputError(`${field} must be an integer from ${MIN_PRIORITY} to ${MAX_PRIORITY} (higher is claimed first; got ${priority})`, field);
  }
  return priority;
}

function checkBulkFilter(args: BulkArgs): BulkFilter {
  if (args.ids && args.ids.length > MAX_IDS) throw new InputError(`ids: give at most ${MAX_IDS}`, 'ids');
  return {
    ids: args.ids ? args.ids.map((id) => checkId(id, 'ids')) : null,
    sessionId: checkOptionalId(args.sessionId, 'sessionId'),
    kind: args.kind ?? null,
  };
}

/** QUEUED, RUNNING, CANCELLING and PAUSED executions, oldest first. */
export function activeExecutions(ctx: ServiceContext, filter: Filter): Promise<Execution[]> {
  const sessionId = checkOptionalId(filter.sessionId, 'sessionId');
  return ctx.store.listExecutions({ statuses: ACTIVE_STATUSES, kind: filter.kind, sessionId, oldestFirst: true });
}

export function getExecution(ctx: ServiceContext, id: string | number): Promise<Execution | null> {
  return ctx.store.getExecution(checkId(id));
}

/** The execution a stored record points at (a chat answer's, a source's last crawl); null when it points at none. */
export function linkedExecution(ctx: ServiceContext, id: string | null | undefined): Promise<Execution | null> | null {
  return id ? ctx.store.getExecution(id) : null;
}

/** History: newest first, optionally filtered. */
export function listExecutions(
  ctx: ServiceContext,
  args: Filter & { status?: readonly ExecutionStatus[] | null; limit?: number | null },
): Promise<Execution[]> {
  const limit = checkLimit(args.limit, DEFAULT_HISTORY, MAX_HISTORY);
  const sessionId = checkOptionalId(args.sessionId, 'sessionId');
  return ctx.store.listExecutions({ kind: args.kind, statuses: args.status ?? undefined, sessionId, limit });
}

const MAX_HISTORY_TEXT = 200;

/** One page of executionHistory: the executions, the cursor of the next page (null on the last), and how many match in all. */
export interface HistoryConnection {
  executions: Execution[];
  nextCursor: string | null;
  totalCount: number;
}

/**
 * History a page at a time: newest first, older than the cursor, matching every filter given; the
 * text matches anywhere in the title (ASCII letters in either case), the same on both stores.
 */
export async function executionHistory(
  ctx: ServiceContext,
  args: Filter & { status?: readonly ExecutionStatus[] | null; text?: string | null; after?: string | null; limit?: number | null },
): Promise<HistoryConnection> {
  const limit = checkLimit(args.limit, DEFAULT_HISTORY, MAX_HISTORY);
  const sessionId = checkOptionalId(args.sessionId, 'sessionId');
  const beforeOrd = decodeCursor(args.after, 'h', 'executionHistory');
  const text = args.text == null ? '' : checkNoNul(args.text, 'text').trim();
  if (text.length > MAX_HISTORY_TEXT) throw new InputError(`text must be at most ${MAX_HISTORY_TEXT} characters`, 'text');
  const page = await ctx.store.historyPage({
    kind: args.kind,
    statuses: args.status ?? undefined,
    sessionId,
    titleContains: text ? foldAscii(text) : null,
    beforeOrd,
    limit: limit + 1,
  });
  const rows = page.rows.slice(0, limit);
  return {
    executions: rows.map((row) => row.execution),
    nextCursor: page.rows.length > limit ? encodeCursor('h', rows[rows.length - 1]!.ord) : null,
    totalCount: page.total,
  };
}

export function cancelExecution(ctx: ServiceContext, args: { id: string | number; reason?: string | null }): Promise<CancelOutcome> {
  return ctx.engine.cancel(checkId(args.id), checkReason(args.reason), ctx.actor);
}

export function cancelExecutions(ctx: ServiceContext, args: BulkArgs & { reason?: string | null }): Promise<CancelOutcome[]> {
  return ctx.engine.cancelMany(checkBulkFilter(args), checkReason(args.reason), ctx.actor);
}

/** QUEUED|RUNNING -> PAUSED; a kind that cannot resume (CHAT) is refused with CONFLICT. */
export function pauseExecution(ctx: ServiceContext, args: { id: string | number; reason?: string | null }): Promise<Execution> {
  return ctx.engine.pause(checkId(args.id), checkReason(args.reason));
}

/** PAUSED -> QUEUED (attempt + 1); it continues from its checkpoint. */
export function resumeExecution(ctx: ServiceContext, args: { id: string | number }): Promise<Execution> {
  return ctx.engine.resume(checkId(args.id));
}

export function pauseExecutions(ctx: ServiceContext, args: BulkArgs & { reason?: string | null }): Promise<BulkOutcome> {
  return ctx.engine.pauseMany(checkBulkFilter(args), checkReason(args.reason));
}

export function resumeExecutions(ctx: ServiceContext, args: BulkArgs): Promise<BulkOutcome> {
  return ctx.engine.resumeMany(checkBulkFilter(args));
}

/** While QUEUED or PAUSED; CONFLICT otherwise. */
export function setExecutionPriority(ctx: ServiceContext, args: { id: string | number; priority: number }): Promise<Execution> {
  return ctx.engine.setPriority(checkId(args.id), checkPriority(args.priority));
}

/** 1-based place in the queue while QUEUED; null otherwise. */
export function queuePosition(ctx: ServiceContext, execution: Execution): Promise<number | null> | null {
  return execution.status === 'QUEUED' ? ctx.store.queuePosition(execution.id) : null;
}

/** The events of one execution after `afterSeq`: replayed from the log, then live, ending after the terminal one. */
export async function watchExecution(
  ctx: ServiceContext,
  args: { executionId: string | number; afterSeq?: number | null },
): Promise<AsyncIterable<ExecutionEvent>> {
  const start = await startJobProgress(ctx.store, args.executionId, args.afterSeq);
  if (start.ended) return (async function* () {})();
  return replayThenLive(ctx.store, ctx.pubsub, start.executionId, start.afterSeq, () => ctx.metrics.trackSubscription('jobProgress'));
}

/** Every status change of any execution, live. */
export function watchChanges(ctx: ServiceContext): AsyncIterable<Execution> {
  return latestChanges(ctx.pubsub, () => ctx.metrics.trackSubscription('executionChanged'));
}

const DEFAULT_PAGES = 50;
const MAX_PAGES = 200;
async function knownExecution(ctx: ServiceContext, id: string | number, field = 'id'): Promise<Execution> {
  const checked = checkId(id, field);
  const execution = await ctx.store.getExecution(checked);
  if (!execution) throw new NotFoundError(`no execution has id "${checked}"`);
  return execution;
}

/** The pages an execution stored, in the order it stored them first, a page at a time. */
export async function executionPages(
  ctx: ServiceContext,
  args: { executionId: string | number; after?: string | null; limit?: number | null },
): Promise<{ pages: StoredPage[]; nextCursor: string | null }> {
  const limit = checkLimit(args.limit, DEFAULT_PAGES, MAX_PAGES);
  const afterId = decodeCursor(args.after, 'p', 'executionPages') ?? 0;
  const execution = await knownExecution(ctx, args.executionId, 'executionId');
  const rows = await ctx.store.knowledge.listExecutionPages(execution.id, afterId, limit + 1);
  const pages = rows.slice(0, limit);
  return { pages, nextCursor: rows.length > limit ? encodeCursor('p', pages[pages.length - 1]!.id) : null };
}

/**
 * A new execution with the same kind and input, started by the caller. A crawl's address is checked
 * again (it may resolve elsewhere now); a chat question is asked again in its session.
 */
export async function rerunExecution(ctx: ServiceContext, args: { id: string | number }): Promise<Execution> {
  const original = await knownExecution(ctx, args.id);
  if (original.kind === 'CHAT') {
    const input = original.input as ChatInput;
    return sendChatMessage(ctx, { sessionId: input.sessionId, text: input.question });
  }
  const input = original.input as { url: string };
  await assertCrawlableUrl(input.url, ctx.config.allowPrivateNetworks);
  return ctx.engine.submit({
    kind: original.kind,
    title: original.title,
    sessionId: original.sessionId,
    input: original.input,
    createdBy: ctx.actor,
    priority: original.priority,
  });
}
