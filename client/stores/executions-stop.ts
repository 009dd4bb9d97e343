import type { Client } from '@urql/core';
import { CancelExecutionMutation, CancelExecutionsMutation, type Execution } from '../graphql/documents.ts';
import { toAppError, type AppError } from '../graphql/errors.ts';
import { statusWord } from '../lib/format.ts';
import type { ExecutionEntry } from '../lib/reconcile.ts';
import { isTerminal } from '../lib/status.ts';
import type { useToastsStore } from './toasts.ts';

export interface StopContext {
  entries: Map<string, ExecutionEntry>;
  ingest(snapshot: Execution): unknown;
  client(): Client;
  toasts: ReturnType<typeof useToastsStore>;
  /** A Stop without an answer for this long is sent once more; a second silence is reported. */
  timeoutMs: number;
}

const TIMED_OUT = Symbol('timed out');

function within<T>(promise: Promise<T>, ms: number): Promise<T | typeof TIMED_OUT> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<typeof TIMED_OUT>((resolve) => (timer = setTimeout(() => resolve(TIMED_OUT), ms)));
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/** The Stop actions of the executions store: optimistic "Stopping…", the server's truth, rollback. */
export function stopActions({ entries, ingest, client, toasts, timeoutMs }: StopContext) {
  /**
   * Stop: "Stopping…" at once, then the server's truth. On failure the entry returns to what the
   * server last said and the error is returned (cancel() toasts it; cancelMany() sums them up).
   */
  async function requestCancel(id: string): Promise<AppError | null> {
    const entry = entries.get(id);
    if (!entry || entry.stopping || isTerminal(entry.execution.status)) return null;
    entry.stopping = true;
    const send = () => {
      const request = client().mutation(CancelExecutionMutation, { id }).toPromise();
      // A late answer is still the server's truth, even after this Stop was reported as unanswered.
      void request.then((late) => late.data && ingest(late.data.cancelExecution.execution));
      return within(request, timeoutMs);
    };
    // A cancel is idempotent, so a request that hangs is simply sent once more.
    let result = await send();
    if (result === TIMED_OUT) result = await send();
    entry.stopping = false;
    if (result === TIMED_OUT) {
      const seconds = Math.round((2 * timeoutMs) / 1000);
      return { code: 'NETWORK', message: `the server did not answer the Stop in ${seconds} s (it may still stop it). Press Stop to try again.` };
    }
    if (result.error || !result.data) return toAppError(result.error ?? new Error('No answer from the server'));
    const { accepted, execution } = result.data.cancelExecution;
    ingest(execution);
    if (!accepted) {
      toasts.push({
        tone: 'info',
        title: `Already ${statusWord(execution.status).toLowerCase()}`,
        message: `${execution.title} had ended before the Stop arrived.`,
      });
    }
    return null;
  }

  /** Stops one execution; a failure rolls back and says why in a toast. */
  async function cancel(id: string): Promise<boolean> {
    const error = await requestCancel(id);
    // FORBIDDEN has its own toast (naming the scope), from the connection store.
    if (error && error.code !== 'FORBIDDEN') {
      const title = entries.get(id)?.execution.title ?? id;
      toasts.push({ tone: 'error', title: 'Could not stop', message: `${title}: ${error.message}` });
    }
    return error === null;
  }

  /**
   * Stops several with one cancelExecutions(ids) request: all show "Stopping…" together, then one
   * toast says how many stopped. Those the server did not stop (ended meanwhile, or unknown) go
   * back to what it last said; a failed request rolls them all back.
   */
  async function cancelMany(ids: string[]): Promise<number> {
    const pending = ids
      .map((id) => entries.get(id))
      .filter((entry): entry is ExecutionEntry => !!entry && !entry.stopping && !isTerminal(entry.execution.status));
    if (pending.length === 0) return 0;
    for (const entry of pending) entry.stopping = true;
    const request = client().mutation(CancelExecutionsMutation, { ids: pending.map((entry) => entry.execution.id) }).toPromise();
    const result = await within(request, 2 * timeoutMs);
    for (const entry of pending) entry.stopping = false;
    if (result === TIMED_OUT || result.error || !result.data) {
      const error: AppError =
        result === TIMED_OUT
          ? { code: 'NETWORK', message: 'the server did not answer the Stop. Press Stop to try again.' }
          : toAppError(result.error ?? new Error('No answer from the server'));
      if (error.code !== 'FORBIDDEN') toasts.push({ tone: 'error', title: `Could not stop ${pending.length}`, message: error.message });
      return 0;
    }
    const { cancelled, executions } = result.data.cancelExecutions;
    for (const execution of executions) ingest(execution);
    const missed = pending.length - cancelled;
    toasts.push({
      tone: missed ? 'warning' : 'success',
      title: `Stopped ${cancelled} of ${pending.length}`,
      message: missed ? `${missed} had already ended or are not known to the server.` : undefined,
    });
    return cancelled;
  }

  return { cancel, cancelMany };
}
