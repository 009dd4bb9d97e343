import type { Ref } from 'vue';
import { toAppError, type AppError } from '../graphql/errors.ts';

/** The one status value of anything loaded asynchronously, paired with its error. */
export type AsyncStatus = 'idle' | 'loading' | 'ready' | 'error';

export interface AsyncState {
  status: AsyncStatus;
  error: AppError | null;
}

export function idleState(): AsyncState {
  return { status: 'idle', error: null };
}

/** What an urql query or mutation resolves to (`.toPromise()`), as far as this helper reads it. */
export interface OperationAnswer<T> {
  data?: T | null;
  error?: unknown;
}

export interface IntoStateOptions {
  /** Keep showing `ready` while a reload is in flight (no flash of "Loading…"). */
  quiet?: boolean;
  /** Checked when the answer arrives: false means a newer request took over, so this one changes nothing. */
  current?: () => boolean;
}

/**
 * Runs one request into an async state: `loading`, then `ready` with `apply(data)` called first,
 * or `error` with the server's error. Returns the data, or null when it failed or was superseded.
 */
export async function intoState<T>(
  state: Ref<AsyncState>,
  request: Promise<OperationAnswer<T>>,
  apply: (data: T) => void = () => {},
  options: IntoStateOptions = {},
): Promise<T | null> {
  if (!(options.quiet && state.value.status === 'ready')) state.value = { status: 'loading', error: null };
  let answer: OperationAnswer<T>;
  try {
    answer = await request;
  } catch (error) {
    answer = { error };
  }
  if (options.current && !options.current()) return null;
  if (answer.error || !answer.data) {
    state.value = { status: 'error', error: toAppError(answer.error ?? new Error('No answer from the server')) };
    return null;
  }
  apply(answer.data);
  state.value = { status: 'ready', error: null };
  return answer.data;
}
