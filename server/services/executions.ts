import type { CancelOutcome } from '../engine/engine.ts';
import { latestChanges, replayThenLive } from '../engine/event-stream.ts';
import { ACTIVE_STATUSES, type ExecutionStatus } from '../executions/status.ts';
import type { Execution, ExecutionEvent, ExecutionKind } from '../executions/types.ts';
import { InputError } from '../lib/errors.ts';
import { checkId, checkLimit, checkOptionalId } from './arguments.ts';
import type { ServiceContext } from './context.ts';
import { startJobProgress } from './streams.ts';

const MAX_REASON_LENGTH = 1000;
const DEFAULT_HISTORY = 50;
const MAX_HISTORY = 500;

function checkReason(reason: string | null | undefined): string | null {
  if (reason == null) return null;
  if (reason.length > MAX_REASON_LENGTH) throw new InputError(`reason must be at most ${MAX_REASON_LENGTH} characters`, 'reason');
  return reason;
}

interface Filter {
  kind?: ExecutionKind | null;
  sessionId?: string | number | null;
}

/** QUEUED, RUNNING and CANCELLING executions, oldest first. */
export function activeExecutions(ctx: ServiceContext, filter: Filter): Promise<Execution[]> {
  const sessionId = checkOptionalId(filter.sessionId, 'sessionId');
  return ctx.store.listExecutions({ statuses: ACTIVE_STATUSES, kind: filter.kind, sessionId, oldestFirst: true });
}

export function getExecution(ctx: ServiceContext, id: string | number): Promise<Execution | null> {
  return ctx.store.getExecution(checkId(id));
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

export function cancelExecution(ctx: ServiceContext, args: { id: string | number; reason?: string | null }): Promise<CancelOutcome> {
  return ctx.engine.cancel(checkId(args.id), checkReason(args.reason), ctx.actor);
}

export function cancelExecutions(ctx: ServiceContext, args: Filter & { reason?: string | null }): Promise<CancelOutcome[]> {
  const sessionId = checkOptionalId(args.sessionId, 'sessionId');
  return ctx.engine.cancelMany({ kind: args.kind, sessionId }, checkReason(args.reason), ctx.actor);
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
