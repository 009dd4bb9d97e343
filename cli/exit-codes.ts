// How a `sluice` process ended, for scripts: fixed, documented in `sluice --help` and docs/cli.md.

export const ExitCode = {
  SUCCEEDED: 0,
  /** The execution FAILED, or an unexpected error. */
  FAILED: 1,
  USAGE: 2,
  CANCELLED: 3,
  INTERRUPTED: 4,
  /** The server cannot be reached, answered something that is not Sluice, or refused the token. */
  UNREACHABLE: 5,
  NOT_FOUND: 6,
  /** Ctrl-C: the watching stopped (the execution did not). */
  INTERRUPTED_BY_USER: 130,
} as const;

export type ExitCode = (typeof ExitCode)[keyof typeof ExitCode];

/** Terminal execution statuses and the exit code each one means. */
const BY_STATUS: Record<string, ExitCode> = {
  SUCCEEDED: ExitCode.SUCCEEDED,
  FAILED: ExitCode.FAILED,
  CANCELLED: ExitCode.CANCELLED,
  INTERRUPTED: ExitCode.INTERRUPTED,
};

/** True for a status nothing leaves (the end of a jobProgress stream). */
export function isTerminal(status: string): boolean {
  return status in BY_STATUS;
}

/** The exit code for an execution that ended with `status`. */
export function exitCodeForStatus(status: string): ExitCode {
  return BY_STATUS[status] ?? ExitCode.FAILED;
}

/** The exit code for an `extensions.code` of a GraphQL error, or one of the client's own codes (see api.ts). */
export function exitCodeForError(code: string): ExitCode {
  switch (code) {
    case 'UNREACHABLE':
    case 'BAD_RESPONSE':
    case 'UNAUTHENTICATED':
    case 'FORBIDDEN':
      return ExitCode.UNREACHABLE;
    case 'NOT_FOUND':
      return ExitCode.NOT_FOUND;
    case 'BAD_USER_INPUT':
    case 'CONFLICT': // e.g. pausing a chat answer, resuming what is not paused
      return ExitCode.USAGE;
    default:
      return ExitCode.FAILED;
  }
}
