import type { Client } from '@urql/core';
import { ref, shallowRef } from 'vue';
import { ExecutionHistoryQuery, type Execution } from '../graphql/documents.ts';
import { idleState, intoState, type AsyncState } from '../lib/async.ts';
import type { HistoryFilter } from '../lib/history.ts';

export interface HistoryContext {
  client(): Client;
  ingest(snapshot: Execution): unknown;
}

const PAGE = 50;

/**
 * The paged history of the executions store: the server's pages (executionHistory, by cursor, with
 * its total count) for one filter at a time. The rows are kept here, not only in the store's bounded
 * cache, so a long history does not lose rows the cache forgets; the cache still gets each row,
 * so what changes live shows live.
 */
export function historyActions({ client, ingest }: HistoryContext) {
  const pageState = ref<AsyncState>(idleState());
  const moreState = ref<AsyncState>(idleState());
  const rows = shallowRef<Execution[]>([]);
  const nextCursor = ref<string | null>(null);
  const totalCount = ref<number | null>(null);
  const filter = shallowRef<HistoryFilter | null>(null);
  /** Bumped by every new filter, so an answer for an older one changes nothing. */
  let generation = 0;

  function request(on: HistoryFilter, after: string | null) {
    const text = on.text.trim();
    const variables = { kind: on.kind, status: on.statuses.length ? [...on.statuses] : null, text: text || null, after, limit: PAGE };
    return client().query(ExecutionHistoryQuery, variables, { requestPolicy: 'network-only' }).toPromise();
  }

  /** The first page for a filter; what was loaded for another filter goes. */
  async function loadPaged(on: HistoryFilter): Promise<void> {
    const mine = ++generation;
    filter.value = on;
    moreState.value = idleState();
    await intoState(
      pageState,
      request(on, null),
      (data) => {
        const page = data.executionHistory;
        for (const execution of page.executions) ingest(execution);
        rows.value = page.executions;
        nextCursor.value = page.nextCursor;
        totalCount.value = page.totalCount;
      },
      { current: () => mine === generation },
    );
  }

  /** The next page after the last one loaded (Load more). */
  async function loadMore(): Promise<void> {
    const on = filter.value;
    const after = nextCursor.value;
    if (!on || !after || moreState.value.status === 'loading') return;
    const mine = generation;
    await intoState(
      moreState,
      request(on, after),
      (data) => {
        const page = data.executionHistory;
        for (const execution of page.executions) ingest(execution);
        const have = new Set(rows.value.map((execution) => execution.id));
        rows.value = [...rows.value, ...page.executions.filter((execution) => !have.has(execution.id))];
        nextCursor.value = page.nextCursor;
        totalCount.value = page.totalCount;
      },
      { current: () => mine === generation },
    );
  }

  /** Nothing to ask for (a status filter no ended execution can match). */
  function clearPaged(on: HistoryFilter): void {
    generation += 1;
    filter.value = on;
    rows.value = [];
    nextCursor.value = null;
    totalCount.value = 0;
    pageState.value = { status: 'ready', error: null };
  }

  return { pageState, moreState, rows, nextCursor, totalCount, filter, loadPaged, loadMore, clearPaged };
}
