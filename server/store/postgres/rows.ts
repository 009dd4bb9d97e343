import pg from 'pg';
import type { Execution, ExecutionEvent } from '../../engine/types.ts';

export type Row = Record<string, unknown>;

/**
 * Type parsers of this store's pools: int8 (epoch-millisecond times, counts, identity ids) as a JS
 * number instead of pg's default string. Times and ids stay far below 2^53. Scoped to the pool, so
 * other users of `pg` in the process are not affected.
 */
export const pgTypes = {
  getTypeParser: ((oid: number, format?: 'text' | 'binary') => {
    if (oid === pg.types.builtins.INT8) return (value: string) => Number(value);
    return pg.types.getTypeParser(oid, format as 'text');
  }) as typeof pg.types.getTypeParser,
};

/** A JSON parameter for a jsonb column (pg would send a JS array as a PostgreSQL array). */
export const json = (value: unknown): string => JSON.stringify(value ?? null);

/** PostgreSQL text cannot hold NUL; crawled text may. SQLite keeps it, so only this store drops it. */
export const text = <T extends string | null>(value: T): T => (value === null ? value : (value.replaceAll('\u0000', '') as T));

export function toExecution(r: Row): Execution {
  return {
    id: r.id as string,
    kind: r.kind as Execution['kind'],
    status: r.status as Execution['status'],
    title: r.title as string,
    sessionId: (r.session_id as string | null) ?? null,
    input: r.input ?? null,
    result: r.result ?? null,
    createdAt: r.created_at as number,
    startedAt: (r.started_at as number | null) ?? null,
    finishedAt: (r.finished_at as number | null) ?? null,
    cancelRequestedAt: (r.cancel_requested_at as number | null) ?? null,
    cancelReason: (r.cancel_reason as string | null) ?? null,
    error: (r.error as string | null) ?? null,
    attempt: r.attempt as number,
    lastSeq: r.last_seq as number,
    node: (r.node as string | null) ?? null,
    leaseUntil: (r.lease_until as number | null) ?? null,
    progress: r.progress as Execution['progress'],
    createdBy: (r.created_by as string | null) ?? null,
    cancelledBy: (r.cancelled_by as string | null) ?? null,
  };
}

export function toEvent(r: Row): ExecutionEvent {
  return {
    executionId: r.execution_id as string,
    seq: r.seq as number,
    at: r.at as number,
    type: r.type as ExecutionEvent['type'],
    status: r.status as ExecutionEvent['status'],
    progress: r.progress as ExecutionEvent['progress'],
    message: (r.message as string | null) ?? null,
  };
}

const CONNECTION_CODES = new Set(['57P01', '57P02', '57P03', 'ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENOTFOUND']);

/** Whether an error means the connection (or the server) went away, rather than that the SQL was refused. */
export function isConnectionError(error: unknown): boolean {
  if (!(error instanceof Error)) return false;
  const code = (error as { code?: unknown }).code;
  if (typeof code === 'string' && (CONNECTION_CODES.has(code) || code.startsWith('08'))) return true;
  return /Connection terminated|connection error|timeout exceeded when trying to connect|Client was closed/i.test(error.message);
}
