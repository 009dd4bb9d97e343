import { CombinedError } from '@urql/core';

/** The codes the server puts in `extensions.code` of errors meant for users. */
export type ErrorCode =
  | 'BAD_USER_INPUT'
  | 'NOT_FOUND'
  | 'FORBIDDEN'
  | 'UNAUTHENTICATED'
  | 'CONFLICT'
  | 'NETWORK'
  | 'UNKNOWN';

/** An error as the UI shows it: a sentence, its code, and the input field it is about (if any). */
export interface AppError {
  code: ErrorCode;
  message: string;
  field?: string;
}

const KNOWN_CODES = new Set<string>(['BAD_USER_INPUT', 'NOT_FOUND', 'FORBIDDEN', 'UNAUTHENTICATED', 'CONFLICT']);

/** Turns an urql CombinedError (or anything thrown) into the one error the UI shows. */
export function toAppError(error: unknown): AppError {
  if (error instanceof CombinedError) {
    const first = error.graphQLErrors[0];
    if (first) {
      const code = String(first.extensions?.code ?? '');
      const field = typeof first.extensions?.field === 'string' ? first.extensions.field : undefined;
      return {
        code: KNOWN_CODES.has(code) ? (code as ErrorCode) : 'UNKNOWN',
        message: code === 'UNAUTHENTICATED' ? `Not signed in: ${first.message}` : first.message,
        ...(field ? { field } : {}),
      };
    }
    if (error.networkError) {
      return { code: 'NETWORK', message: `Cannot reach the server (${error.networkError.message})` };
    }
  }
  if (error instanceof Error) return { code: 'UNKNOWN', message: error.message };
  return { code: 'UNKNOWN', message: String(error) };
}
