/**
 * The execution status machine. This table is the only place transitions are defined; the stores
 * turn each transition into a conditional UPDATE (`WHERE status IN (from)`), so no caller can make
 * a move that is not listed here.
 *
 * Pause has no PAUSING step between RUNNING and PAUSED: the pause is written at once, under the
 * row's lock, and from that commit every write of the paused attempt is refused by the fence (a
 * write needs RUNNING at its attempt), so a pausing worker cannot write after the pause whether its
 * code has stopped yet or not. Its code is then stopped through the same AbortSignal as a cancel.
 * A resume starts a new attempt from the checkpoint, so the old attempt stays fenced off for good.
 */
export const EXECUTION_STATUSES = [
  'QUEUED',
  'RUNNING',
  'CANCELLING',
  'CANCELLED',
  'SUCCEEDED',
  'FAILED',
  'INTERRUPTED',
  'PAUSED',
] as const;
export type ExecutionStatus = (typeof EXECUTION_STATUSES)[number];

export const TERMINAL_STATUSES: readonly ExecutionStatus[] = ['SUCCEEDED', 'FAILED', 'CANCELLED', 'INTERRUPTED'];
/** Not ended: what activeExecutions lists and a cancel reaches. PAUSED waits for a resume or a cancel. */
export const ACTIVE_STATUSES: readonly ExecutionStatus[] = ['QUEUED', 'RUNNING', 'CANCELLING', 'PAUSED'];

export function isTerminal(status: ExecutionStatus): boolean {
  return TERMINAL_STATUSES.includes(status);
}

/** Every legal move, by name. `from` lists the statuses the row must be in for the move to apply. */
export const TRANSITIONS = {
  /** A worker claims a queued execution. */
  claim: { from: ['QUEUED'], to: 'RUNNING' },
  /** The job returned. Fenced by attempt. */
  succeed: { from: ['RUNNING'], to: 'SUCCEEDED' },
  /** The job threw. Fenced by attempt. */
  fail: { from: ['RUNNING'], to: 'FAILED' },
  /** A cancel request on something that never ran: nothing to stop, finish at once. */
  cancelQueued: { from: ['QUEUED'], to: 'CANCELLED' },
  /** A cancel request on running work: the durable tombstone. */
  requestCancel: { from: ['RUNNING'], to: 'CANCELLING' },
  /** The cancelled work stopped, or the grace period ran out. */
  finishCancel: { from: ['CANCELLING'], to: 'CANCELLED' },
  /** Its node stopped or died; it resumes from its checkpoint (attempt + 1). */
  requeue: { from: ['RUNNING'], to: 'QUEUED' },
  /** Its node died and it cannot resume. */
  interrupt: { from: ['RUNNING'], to: 'INTERRUPTED' },
  /** A pause request: a queued one is simply held; a running one is fenced off here and its code aborted. */
  pause: { from: ['QUEUED', 'RUNNING'], to: 'PAUSED' },
  /** A resume: queued again, continuing from its checkpoint as a new attempt (attempt + 1). */
  resume: { from: ['PAUSED'], to: 'QUEUED' },
  /** A cancel request on a paused execution: nothing runs, finish at once. */
  cancelPaused: { from: ['PAUSED'], to: 'CANCELLED' },
} as const satisfies Record<string, { from: readonly ExecutionStatus[]; to: ExecutionStatus }>;

export type TransitionName = keyof typeof TRANSITIONS;
