import type { AppError } from '../graphql/errors.ts';

/** The one status value of anything loaded asynchronously, paired with its error. */
export type AsyncStatus = 'idle' | 'loading' | 'ready' | 'error';

export interface AsyncState {
  status: AsyncStatus;
  error: AppError | null;
}

export function idleState(): AsyncState {
  return { status: 'idle', error: null };
}
