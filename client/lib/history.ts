import type { Execution, ExecutionKind, ExecutionStatus } from '../graphql/documents.ts';
import { isTerminal } from './status.ts';

// What the paged history shows, as pure functions: the server's pages plus what ended here since,
// matched the way the server matches (tested in test/unit/client-history.test.ts).

/** The filters of the history, as the server reads them. */
export interface HistoryFilter {
  kind: ExecutionKind | null;
  statuses: readonly ExecutionStatus[];
  text: string;
}

/** Lower-cases ASCII letters only, as the server's title match does (the same on both stores). */
export function foldAscii(text: string): string {
  return text.replace(/[A-Z]/g, (letter) => letter.toLowerCase());
}

/** Whether an execution matches the filters the way executionHistory decides it. */
export function matchesHistory(execution: Execution, filter: HistoryFilter): boolean {
  const text = foldAscii(filter.text.trim());
  return (
    (!filter.kind || execution.kind === filter.kind) &&
    (!filter.statuses.length || filter.statuses.includes(execution.status)) &&
    (!text || foldAscii(execution.title).includes(text))
  );
}

/**
 * Executions known here that the loaded pages do not hold but would: ended, matching, and not older
 * than the last loaded row while more pages follow (older ones come with those pages).
 */
export function endedSinceLoad(
  known: Iterable<Execution>,
  loaded: readonly Execution[],
  hasMore: boolean,
  filter: HistoryFilter,
): Execution[] {
  const ids = new Set(loaded.map((execution) => execution.id));
  const floor = hasMore ? (loaded.at(-1)?.createdAt ?? '') : '';
  return [...known].filter(
    (execution) => !ids.has(execution.id) && isTerminal(execution.status) && execution.createdAt >= floor && matchesHistory(execution, filter),
  );
}
