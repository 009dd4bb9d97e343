// The checks a jobProgress subscription passes before it streams, shared by every transport (the
// resolver for HTTP/SSE, the fan-out for graphql-ws).
import { isTerminal } from '../executions/status.ts';
import { InputError, NotFoundError } from '../lib/errors.ts';
import type { Store } from '../store/store.ts';
import { checkId } from './arguments.ts';

/** Where a jobProgress stream starts; `ended`: nothing will come after afterSeq (complete at once). */
export interface JobProgressStart {
  executionId: string;
  afterSeq: number;
  ended: boolean;
}

/**
 * Validates jobProgress(executionId, afterSeq): a known execution, and a cursor within its log. A
 * cursor beyond the log would wait for events that may never come, so it is answered now: an error
 * that says the last seq while the execution is active, an empty stream once it has ended.
 */
export async function startJobProgress(store: Store, executionId: string | number, afterSeq: number | null | undefined): Promise<JobProgressStart> {
  const id = checkId(executionId, 'executionId');
  const after = afterSeq ?? 0;
  if (after < 0) throw new InputError('afterSeq must be 0 or more', 'afterSeq');
  const row = await store.getExecution(id);
  if (!row) throw new NotFoundError(`no execution has id "${id}"`);
  if (after <= row.lastSeq) return { executionId: id, afterSeq: after, ended: false };
  if (isTerminal(row.status)) return { executionId: id, afterSeq: after, ended: true };
  throw new InputError(`afterSeq ${after} is beyond the last event of execution "${id}": its last seq is ${row.lastSeq}`, 'afterSeq', {
    lastSeq: row.lastSeq,
  });
}
