import { mergeProgress, type ProgressPatch } from './progress.ts';
import { TRANSITIONS, type ExecutionStatus, type TransitionName } from './status.ts';
import {
  FencedError,
  type Execution,
  type ExecutionEvent,
  type ExecutionWrite,
  type Fence,
  type TransitionOptions,
} from './types.ts';

/**
 * The row-level logic shared by both stores: given the row as read inside a transaction, what the
 * row becomes and which event records it. The stores only read, call these, and write; the SQL
 * UPDATE repeats the status (and attempt) condition so the database itself refuses a stale move.
 */
export interface Planned {
  next: Execution;
  event: ExecutionEvent | null;
}

type Effects = { patch: Partial<Execution>; progress: ProgressPatch; message: string | null };

function effectsOf(row: Execution, name: TransitionName, o: TransitionOptions, now: number): Effects {
  const ended = { finishedAt: now, node: null, leaseUntil: null };
  switch (name) {
    case 'claim':
      return {
        patch: { node: o.nodeId ?? null, leaseUntil: now + (o.leaseMs ?? 0), startedAt: row.startedAt ?? now },
        progress: { stage: 'starting' },
        message: row.attempt > 1 ? `resumed on ${o.nodeId} (attempt ${row.attempt})` : `started on ${o.nodeId}`,
      };
    case 'succeed':
      return { patch: { ...ended, result: o.result ?? null }, progress: { stage: 'done', percent: 100 }, message: null };
    case 'fail':
      return { patch: { ...ended, error: o.error ?? 'failed' }, progress: { stage: 'failed' }, message: o.error ?? null };
    case 'cancelQueued':
      return {
        patch: { ...ended, cancelRequestedAt: now, cancelReason: o.reason ?? null, cancelledBy: o.by ?? null },
        progress: { stage: 'cancelled' },
        message: o.reason ?? null,
      };
    case 'requestCancel':
      return {
        patch: { cancelRequestedAt: now, cancelReason: o.reason ?? null, cancelledBy: o.by ?? null },
        progress: { stage: 'cancelling' },
        message: o.reason ?? null,
      };
    case 'finishCancel':
      return { patch: ended, progress: { stage: 'cancelled' }, message: o.reason ?? null };
    case 'requeue':
      return {
        patch: { attempt: row.attempt + 1, node: null, leaseUntil: null },
        progress: { stage: 'queued' },
        message: o.reason ?? null,
      };
    case 'pause':
      // node stays: it names where the paused attempt ran, so the pause can be rung to that node
      return {
        patch: { leaseUntil: null },
        progress: { stage: 'paused' },
        message: o.reason ? `paused: ${o.reason}` : 'paused',
      };
    case 'resume':
      return { patch: { attempt: row.attempt + 1, node: null, leaseUntil: null }, progress: { stage: 'queued' }, message: 'resumed' };
    case 'cancelPaused':
      return {
        patch: { ...ended, cancelRequestedAt: now, cancelReason: o.reason ?? null, cancelledBy: o.by ?? null },
        progress: { stage: 'cancelled' },
        message: o.reason ?? null,
      };
    case 'interrupt':
      return { patch: { ...ended, error: o.reason ?? 'interrupted' }, progress: { stage: 'interrupted' }, message: o.reason ?? null };
  }
}

/**
 * Plans a named transition, or the first of several that applies to the row as it is now (one
 * decision under the row's lock: a cancel is `['cancelQueued', 'requestCancel']`, so a row that moves
 * between QUEUED and RUNNING meanwhile cannot slip between two separate attempts). Null when none
 * applies: the row's status (or attempt, when fenced) does not allow it.
 */
export function planTransition(
  row: Execution,
  names: TransitionName | readonly TransitionName[],
  options: TransitionOptions,
  now: number,
): Planned | null {
  const name = (typeof names === 'string' ? [names] : names).find((n) => applies(row, n, options, now));
  return name ? planOne(row, name, options, now) : null;
}

function applies(row: Execution, name: TransitionName, options: TransitionOptions, now: number): boolean {
  const { from } = TRANSITIONS[name];
  if (!(from as readonly ExecutionStatus[]).includes(row.status)) return false;
  if (options.attempt !== undefined && options.attempt !== row.attempt) return false;
  if (options.ifLeaseExpired && row.leaseUntil !== null && row.leaseUntil >= now) return false;
  const overdue = options.ifCancelRequestedMsAgo;
  return overdue === undefined || (row.cancelRequestedAt !== null && row.cancelRequestedAt + overdue <= now);
}

function planOne(row: Execution, name: TransitionName, options: TransitionOptions, now: number): Planned {
  const { to } = TRANSITIONS[name];
  const { patch, progress, message } = effectsOf(row, name, options, now);
  const next: Execution = {
    ...row,
    ...patch,
    status: to,
    progress: mergeProgress(row.progress, progress),
    lastSeq: row.lastSeq + 1,
  };
  const event: ExecutionEvent = {
    executionId: row.id,
    seq: next.lastSeq,
    at: now,
    type: 'STATUS',
    status: to,
    progress: next.progress,
    message,
  };
  return { next, event };
}

/** The first event of every execution: its STATUS event QUEUED, seq 1, as recorded with the new row. */
export function firstEvent(execution: Execution, at: number): ExecutionEvent {
  return { executionId: execution.id, seq: 1, at, type: 'STATUS', status: 'QUEUED', progress: execution.progress, message: null };
}

/** Statuses in which an execution waits, so its priority can still be changed. */
export const WAITING_STATUSES: readonly ExecutionStatus[] = ['QUEUED', 'PAUSED'];

/**
 * Plans a priority change with the LOG event that records it; null unless the execution waits
 * (QUEUED or PAUSED). Not a status move: the status machine is unchanged by it.
 */
export function planPriority(row: Execution, priority: number, now: number): Planned | null {
  if (!WAITING_STATUSES.includes(row.status)) return null;
  const next: Execution = { ...row, priority, lastSeq: row.lastSeq + 1 };
  const message = `priority set to ${priority} (was ${row.priority})`;
  return { next, event: { executionId: row.id, seq: next.lastSeq, at: now, type: 'LOG', status: row.status, progress: row.progress, message } };
}

/** Plans a job's write; throws FencedError unless the row is RUNNING at the writer's attempt. */
export function planWrite(row: Execution | null, fence: Fence, write: ExecutionWrite, now: number): Planned {
  if (!row || row.status !== 'RUNNING' || row.attempt !== fence.attempt) throw new FencedError(fence.executionId);
  const progress = write.progress ? mergeProgress(row.progress, write.progress) : row.progress;
  if (!write.event) return { next: { ...row, progress }, event: null };
  const next: Execution = { ...row, progress, lastSeq: row.lastSeq + 1 };
  return {
    next,
    event: {
      executionId: row.id,
      seq: next.lastSeq,
      at: now,
      type: write.event.type,
      status: row.status,
      progress,
      message: write.event.message,
    },
  };
}
