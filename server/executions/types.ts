import type { Progress, ProgressPatch } from './progress.ts';
import type { ExecutionStatus } from './status.ts';

export const EXECUTION_KINDS = ['CRAWL', 'CHAT'] as const;
export type ExecutionKind = (typeof EXECUTION_KINDS)[number];

export const EVENT_TYPES = ['STATUS', 'PROGRESS', 'LOG', 'PAGE', 'TOKEN'] as const;
export type EventType = (typeof EVENT_TYPES)[number];

/** One row of the executions table. Times are epoch milliseconds. */
export interface Execution {
  id: string;
  kind: ExecutionKind;
  status: ExecutionStatus;
  title: string;
  sessionId: string | null;
  input: unknown;
  result: unknown;
  createdAt: number;
  startedAt: number | null;
  finishedAt: number | null;
  cancelRequestedAt: number | null;
  cancelReason: string | null;
  error: string | null;
  attempt: number;
  lastSeq: number;
  node: string | null;
  leaseUntil: number | null;
  progress: Progress;
  createdBy: string | null;
  cancelledBy: string | null;
  /** Higher is claimed first; FIFO (ord) within a priority. */
  priority: number;
}

/** One entry of an execution's event log. */
export interface ExecutionEvent {
  executionId: string;
  seq: number;
  at: number;
  type: EventType;
  status: ExecutionStatus;
  progress: Progress;
  message: string | null;
}

/** A new execution, as submitted (it starts QUEUED). */
export interface NewExecution {
  kind: ExecutionKind;
  title: string;
  sessionId: string | null;
  input: unknown;
  createdBy: string | null;
  /** Default 0. */
  priority?: number;
}

/** A committed change: the row as it is now and the events written with it, in seq order. */
export interface Change {
  execution: Execution;
  events: ExecutionEvent[];
}

/** The extra facts a transition records. Which of them apply depends on the transition. */
export interface TransitionOptions {
  /** Fences the move to this attempt (worker writes: succeed, fail, requeue, interrupt). */
  attempt?: number;
  nodeId?: string;
  leaseMs?: number;
  result?: unknown;
  error?: string;
  reason?: string | null;
  by?: string | null;
  /**
   * Only if the row's lease has run out at the moment of the move (by the store's clock, under the
   * row's lock): a takeover of an orphan cannot take an execution whose node renewed meanwhile.
   */
  ifLeaseExpired?: boolean;
  /** Only if the cancel was requested at least this long ago (the grace period of a CANCELLING row). */
  ifCancelRequestedMsAgo?: number;
  /**
   * Not applied (null) when another transaction holds the row's lock, instead of waiting for it: a
   * sweep (recovery, overdue cancels) tries again on its next beat. Sweeps of every node waiting in
   * line for one row each held a connection while they waited, and a node whose pool was all in
   * that line could renew no lease and record no cancel (a lock convoy under load). PostgreSQL;
   * SQLite's one writer never waits for a row.
   */
  skipLocked?: boolean;
}

/** Which executions to list. */
export interface ExecutionFilter {
  statuses?: readonly ExecutionStatus[];
  kind?: ExecutionKind | null;
  sessionId?: string | null;
  limit?: number;
  /** Oldest first when true (queue order); newest first otherwise. */
  oldestFirst?: boolean;
}

/** One page of the history: newest first, matching every filter given. */
export interface HistoryQuery {
  statuses?: readonly ExecutionStatus[];
  kind?: ExecutionKind | null;
  sessionId?: string | null;
  /** Only titles containing this, already folded by foldAscii (ASCII letters lower case); null: any. */
  titleContains?: string | null;
  /** Only rows older than this position (the cursor); null: from the newest. */
  beforeOrd?: number | null;
  limit: number;
}

/** A history page: each row with its position (for the next cursor), and how many match in all. */
export interface HistoryPage {
  rows: { execution: Execution; ord: number }[];
  /** Every execution matching the filters, wherever the cursor is. */
  total: number;
}

/** Lower-cases ASCII letters only: what both stores' title match folds (SQLite's lower(), PostgreSQL's lower() under COLLATE "C"). */
export function foldAscii(text: string): string {
  return text.replace(/[A-Z]/g, (letter) => letter.toLowerCase());
}

/** Checkpoint entries: key -> JSON value; null deletes the key. */
export type CheckpointEntries = Record<string, unknown>;

/**
 * What every fenced write by a job carries: an event, a progress patch, checkpoint entries. Stores
 * add what their other slices record in the same transaction (a page, an answer's text).
 */
export interface ExecutionWrite {
  event?: { type: Exclude<EventType, 'STATUS'>; message: string | null };
  progress?: ProgressPatch;
  checkpoint?: CheckpointEntries;
}

/** What a write by a worker carries, so the store can refuse it once the row has moved on. */
export interface Fence {
  executionId: string;
  attempt: number;
}

/** Raised by a store when a fenced write is refused: the worker no longer owns the execution. */
export class FencedError extends Error {
  override readonly name = 'FencedError';
  constructor(readonly executionId: string) {
    super(`execution ${executionId} has moved on; this worker's write was refused`);
  }
}

/**
 * Raised by a store when the database could not be reached (a restart, a network cut) and the
 * operation did not commit. The execution is not at fault: the engine releases it to resume from its
 * checkpoint instead of failing it.
 */
export class StoreUnavailableError extends Error {
  override readonly name = 'StoreUnavailableError';
  constructor(cause: unknown) {
    super(`the database could not be reached: ${cause instanceof Error ? cause.message : String(cause)}`, { cause });
  }
}
