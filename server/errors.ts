import { GraphQLError } from 'graphql';

/** The codes a client may see in `extensions.code`; anything else is masked by Yoga. */
export type UserErrorCode = 'BAD_USER_INPUT' | 'NOT_FOUND' | 'FORBIDDEN' | 'UNAUTHENTICATED' | 'CONFLICT';
// Also sent, by server/security: RATE_LIMITED (with retryAfterSeconds) and QUERY_TOO_COMPLEX.

/** An error meant for the caller: shown with its message and extensions.code, never masked. */
export function userError(code: UserErrorCode, message: string, extra?: Record<string, unknown>): GraphQLError {
  return new GraphQLError(message, { extensions: { code, ...extra } });
}

export function badInput(message: string, field?: string): GraphQLError {
  return userError('BAD_USER_INPUT', message, field ? { field } : undefined);
}

export function notFound(message: string): GraphQLError {
  return userError('NOT_FOUND', message);
}
