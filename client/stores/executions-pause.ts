import type { Client } from '@urql/core';
import { PauseExecutionMutation, ResumeExecutionMutation, type Execution } from '../graphql/documents.ts';
import { toAppError, type AppError } from '../graphql/errors.ts';
import type { ExecutionEntry } from '../lib/reconcile.ts';
import type { useToastsStore } from './toasts.ts';

export interface PauseContext {
  entries: Map<string, ExecutionEntry>;
  ingest(snapshot: Execution): unknown;
  client(): Client;
  toasts: ReturnType<typeof useToastsStore>;
}

type Move = 'pausing' | 'resuming';

const WORDS: Record<Move, { verb: string; failed: string }> = {
  pausing: { verb: 'pause', failed: 'Could not pause' },
  resuming: { verb: 'resume', failed: 'Could not resume' },
};

/**
 * The Pause and Resume actions of the executions store, with the same feedback as Stop: the entry
 * shows Paused (or Queued) at once, then the server's truth; on failure it shows what the server
 * last said again and a toast says why (CONFLICT: a chat answer cannot be paused, it had ended, ...).
 */
export function pauseActions({ entries, ingest, client, toasts }: PauseContext) {
  /** One request: optimistic state, the mutation, the server's row or a rollback; the error, if any. */
  async function request(id: string, move: Move): Promise<AppError | null> {
    const entry = entries.get(id);
    if (!entry || entry.control || entry.stopping) return null;
    entry.control = move;
    const result =
      move === 'pausing'
        ? await client().mutation(PauseExecutionMutation, { id }).toPromise()
        : await client().mutation(ResumeExecutionMutation, { id }).toPromise();
    entry.control = null;
    if (result.error || !result.data) return toAppError(result.error ?? new Error('No answer from the server'));
    ingest('pauseExecution' in result.data ? result.data.pauseExecution : result.data.resumeExecution);
    return null;
  }

  function report(move: Move, ids: string[], errors: (AppError | null)[]): number {
    const failed = errors.filter((error): error is AppError => error !== null);
    // FORBIDDEN has its own toast (naming the scope), from the connection store.
    if (failed.some((error) => error.code !== 'FORBIDDEN')) {
      const title = ids.length === 1 ? `${WORDS[move].failed}` : `${WORDS[move].failed} ${failed.length} of ${ids.length}`;
      const what = ids.length === 1 ? `${entries.get(ids[0]!)?.execution.title ?? ids[0]}: ` : '';
      toasts.push({ tone: 'error', title, message: what + [...new Set(failed.map((error) => error.message))].join(' · ') });
    }
    return ids.length - failed.length;
  }

  /** Pauses one execution (its code stops, its checkpoint stays); true when the server did. */
  async function pauseExecution(id: string): Promise<boolean> {
    return report('pausing', [id], [await request(id, 'pausing')]) === 1;
  }

  /** Queues a paused execution again; true when the server did. */
  async function resumeExecution(id: string): Promise<boolean> {
    return report('resuming', [id], [await request(id, 'resuming')]) === 1;
  }

  /** Pauses several at once; failures are summed up in one toast. Resolves to how many paused. */
  async function pauseMany(ids: string[]): Promise<number> {
    return report('pausing', ids, await Promise.all(ids.map((id) => request(id, 'pausing'))));
  }

  /** Resumes several at once; failures are summed up in one toast. Resolves to how many resumed. */
  async function resumeMany(ids: string[]): Promise<number> {
    return report('resuming', ids, await Promise.all(ids.map((id) => request(id, 'resuming'))));
  }

  return { pauseExecution, resumeExecution, pauseMany, resumeMany };
}
