/**
 * The execution status machine. This table is the only place transitions are defined; the stores
 * turn each transition into a conditional UPDATE (`WHERE status IN (from)`), so no caller can make
 * a move that is not listed here.
 */
export const EXECUTION_STATUSES = [
  'QUEUED',
  'RUNNING',
  'CANCELLING',
  'CANCELLED',
  'SUCCEEDED',
  'FAILED',
  'INTERRUPTED',
] as const;
export type ExecutionStatus = (typeof EXECUTION_STATUSES)[number];

export const TERMINAL_STATUSES: readonly ExecutionStatus[] = ['SUCCEEDED', 'FAILED', 'CANCELLED', 'INTERRUPTED'];
export const ACTIVE_STATUSES: readonly ExecutionStatus[] = ['QUEUED', 'RUNNING', 'CANCELLING'];

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
} as const satisfies Record<string, { from: readonly ExecutionStatus[]; to: ExecutionStatus }>;

export type TransitionName = keyof typeof TRANSITIONS;
