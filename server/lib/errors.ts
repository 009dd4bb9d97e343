// Errors meant for the caller. Services and lower layers throw these; one place at the GraphQL
// boundary (server/schema/errors.ts) turns them into `extensions.code`, so nothing below the
// schema depends on the transport. Anything else a caller is shown masked.

/** The codes a client may see in `extensions.code` for these errors. */
export type CallerErrorCode = 'BAD_USER_INPUT' | 'NOT_FOUND' | 'FORBIDDEN' | 'CONFLICT';
// Also sent, by server/security: UNAUTHENTICATED, FORBIDDEN (scopes), RATE_LIMITED (with
// retryAfterSeconds) and QUERY_TOO_COMPLEX.

/** An error the caller should see with its message and code. */
export abstract class CallerError extends Error {
  abstract readonly code: CallerErrorCode;
  /** Facts sent along with the code (e.g. the field at fault). */
  readonly details: Readonly<Record<string, unknown>>;

  constructor(message: string, details: Record<string, unknown> = {}) {
    super(message);
    this.details = details;
  }
}

/** The caller's input is wrong; `field` names the argument or input field at fault. */
export class InputError extends CallerError {
  readonly code = 'BAD_USER_INPUT';
  constructor(
    message: string,
    readonly field?: string,
    extra?: Record<string, unknown>,
  ) {
    super(message, field ? { field, ...extra } : { ...extra });
  }
}

/** What the caller named does not exist. */
export class NotFoundError extends CallerError {
  readonly code = 'NOT_FOUND';
}

/** The caller may not do this. */
export class ForbiddenError extends CallerError {
  readonly code = 'FORBIDDEN';
}

/** The request clashes with the state of what it names. */
export class ConflictError extends CallerError {
  readonly code = 'CONFLICT';
}
