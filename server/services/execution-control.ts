// Pause, resume and priority: argument checks, then one engine call each.
import type { BulkFilter, BulkOutcome, Engine } from '../engine/engine.ts';
import { badInput } from '../errors.ts';
import type { Execution, ExecutionKind } from '../executions/types.ts';
import { checkId } from './arguments.ts';

export const MIN_PRIORITY = -10;
export const MAX_PRIORITY = 10;
const MAX_REASON_LENGTH = 1000;
const MAX_IDS = 500;

interface Control {
  engine: Engine;
}

/** A priority as given, or the default 0; BAD_USER_INPUT outside -10..10. */
export function checkPriority(priority: number | null | undefined, field = 'priority'): number {
  if (priority == null) return 0;
  if (!Number.isInteger(priority) || priority < MIN_PRIORITY || priority > MAX_PRIORITY) {
    throw badInput(`${field} must be an integer from ${MIN_PRIORITY} to ${MAX_PRIORITY} (higher is claimed first; got ${priority})`, field);
  }
  return priority;
}

function checkReason(reason: string | null | undefined): string | null {
  if (reason == null) return null;
  if (reason.length > MAX_REASON_LENGTH) throw badInput(`reason must be at most ${MAX_REASON_LENGTH} characters`, 'reason');
  return reason;
}

/** The filters of the bulk mutations (the same as cancelExecutions): all active executions that match every one given. */
export interface BulkArgs {
  ids?: readonly (string | number)[] | null;
  sessionId?: string | number | null;
  kind?: ExecutionKind | null;
}

export function checkBulkFilter(args: BulkArgs): BulkFilter {
  if (args.ids && args.ids.length > MAX_IDS) throw badInput(`ids: give at most ${MAX_IDS}`, 'ids');
  return {
    ids: args.ids ? args.ids.map((id) => checkId(id, 'ids')) : null,
    sessionId: args.sessionId == null ? null : checkId(args.sessionId, 'sessionId'),
    kind: args.kind ?? null,
  };
}

/** QUEUED|RUNNING -> PAUSED; a kind that cannot resume (CHAT) is refused with CONFLICT. */
export function pauseExecution(ctx: Control, args: { id: string | number; reason?: string | null }): Promise<Execution> {
  return ctx.engine.pause(checkId(args.id), checkReason(args.reason));
}

/** PAUSED -> QUEUED (attempt + 1); it continues from its checkpoint. */
export function resumeExecution(ctx: Control, args: { id: string | number }): Promise<Execution> {
  return ctx.engine.resume(checkId(args.id));
}

export function pauseExecutions(ctx: Control, args: BulkArgs & { reason?: string | null }): Promise<BulkOutcome> {
  return ctx.engine.pauseMany(checkBulkFilter(args), checkReason(args.reason));
}

export function resumeExecutions(ctx: Control, args: BulkArgs): Promise<BulkOutcome> {
  return ctx.engine.resumeMany(checkBulkFilter(args));
}

/** While QUEUED or PAUSED; CONFLICT otherwise. */
export function setExecutionPriority(ctx: Control, args: { id: string | number; priority: number }): Promise<Execution> {
  return ctx.engine.setPriority(checkId(args.id), checkPriority(args.priority));
}
