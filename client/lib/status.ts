import type { ExecutionKind, ExecutionStatus } from '../graphql/documents.ts';

// The status machine as the client reads it. The lists are checked against the schema's enums:
// a status the API adds and these lists miss fails the typecheck.

type Exhaustive<All, Listed extends All> = [Exclude<All, Listed>] extends [never] ? true : never;

export const EXECUTION_KINDS = ['CRAWL', 'CHAT'] as const satisfies readonly ExecutionKind[];
export const ACTIVE_STATUSES = ['QUEUED', 'RUNNING', 'CANCELLING', 'PAUSED'] as const satisfies readonly ExecutionStatus[];
export const TERMINAL_STATUSES = ['CANCELLED', 'SUCCEEDED', 'FAILED', 'INTERRUPTED'] as const satisfies readonly ExecutionStatus[];
export const EXECUTION_STATUSES = [...ACTIVE_STATUSES, ...TERMINAL_STATUSES] as const;

export const kindsAreExhaustive: Exhaustive<ExecutionKind, (typeof EXECUTION_KINDS)[number]> = true;
export const statusesAreExhaustive: Exhaustive<ExecutionStatus, (typeof EXECUTION_STATUSES)[number]> = true;

/** True while the execution can still change (queued, running, being cancelled, or paused). */
export function isActive(status: ExecutionStatus): boolean {
  return (ACTIVE_STATUSES as readonly ExecutionStatus[]).includes(status);
}

/** True once nothing can change the status any more. */
export function isTerminal(status: ExecutionStatus): boolean {
  return (TERMINAL_STATUSES as readonly ExecutionStatus[]).includes(status);
}
