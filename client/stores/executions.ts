import { acceptHMRUpdate, defineStore } from 'pinia';
import { computed, reactive, ref, watch } from 'vue';
import {
  ActiveExecutionsQuery,
  ExecutionChangedSubscription,
  ExecutionHistoryQuery,
  ExecutionQuery,
  type Execution,
  type ExecutionEvent,
  type ExecutionKind,
  type ExecutionStatus,
} from '../graphql/documents.ts';
import { toAppError } from '../graphql/errors.ts';
import { idleState, intoState, type AsyncState } from '../lib/async.ts';
import { kindWord, statusWord } from '../lib/format.ts';
import {
  applyEvent as reconcileEvent,
  applySnapshot,
  capEndedCards,
  displayStatus,
  evictable,
  newEntry,
  settleEnd,
  sortNewestFirst,
  type ExecutionEntry,
} from '../lib/reconcile.ts';
import { readSettings } from '../lib/settings.ts';
import { isActive, isTerminal } from '../lib/status.ts';
import { useAuthStore } from './auth.ts';
import { useClockStore } from './clock.ts';
import { useConnectionStore } from './connection.ts';
import { useNotificationsStore } from './notifications.ts';
import { followActions } from './executions-follow.ts';
import { stopActions } from './executions-stop.ts';
import { pauseActions } from './executions-pause.ts';
import { historyActions } from './executions-history.ts';
import { useToastsStore } from './toasts.ts';

export interface ExecutionFilter {
  kind?: ExecutionKind | null;
  statuses?: ExecutionStatus[] | null;
  limit?: number;
}

const HISTORY_LIMIT = 50;
/** Executions kept in memory; finished ones nothing shows are forgotten beyond it (the server has them). */
const MAX_ENTRIES = 300;
/** Ended cards kept in place until dismissed; older ones move to the history by themselves. */
const MAX_ENDED_CARDS = 10;

/**
 * The executions of the system, live. Owns the activeExecutions and history queries, the one
 * executionChanged subscription, one jobProgress subscription per watched execution
 * (executions-follow.ts) and the Stop, Pause and Resume mutations. How a snapshot or an event
 * changes an entry is decided in lib/reconcile.ts; this store only wires it.
 */
export const useExecutionsStore = defineStore('executions', () => {
  const connection = useConnectionStore();
  const auth = useAuthStore();
  const toasts = useToastsStore();
  const notifications = useNotificationsStore();
  const clock = useClockStore();

  const entries = reactive(new Map<string, ExecutionEntry>());
  const active = ref<AsyncState>(idleState());
  const history = ref<AsyncState>(idleState());
  /** Why executionChanged ended (an error from the server): the header says so and offers a retry. */
  const liveError = ref<string | null>(null);
  const { watchers, follow, ended, watchLog, retryFollow, unfollowAll, refollowAll } = followActions({
    entries,
    client: () => connection.client(),
    applyEvent,
  });
  let changes: { unsubscribe(): void } | null = null;

  const activeEntries = computed(() => sortNewestFirst([...entries.values()].filter((entry) => isActive(entry.execution.status))));
  const runningCount = computed(() => activeEntries.value.length);

  watch(runningCount, (count) => clock.setTicking(count > 0));

  function get(id: string): ExecutionEntry | undefined {
    return entries.get(id);
  }

  /** The known executions matching a filter, newest first. */
  function list(filter: ExecutionFilter = {}): ExecutionEntry[] {
    const matching = [...entries.values()].filter(
      (entry) =>
        (!filter.kind || entry.execution.kind === filter.kind) &&
        (!filter.statuses?.length || filter.statuses.includes(displayStatus(entry))),
    );
    return sortNewestFirst(matching).slice(0, filter.limit ?? Number.POSITIVE_INFINITY);
  }

  /** Adds or refreshes an execution from a snapshot; `mine` marks one this tab started. */
  function ingest(snapshot: Execution, options: { mine?: boolean } = {}): ExecutionEntry {
    let entry = entries.get(snapshot.id);
    if (!entry) {
      entries.set(snapshot.id, newEntry(snapshot, Date.now(), options.mine));
      entry = entries.get(snapshot.id) as ExecutionEntry;
      if (entries.size > MAX_ENTRIES + 50) for (const id of evictable(entries, MAX_ENTRIES, (id) => watchers.has(id))) entries.delete(id);
    } else {
      // Ended before this tab's start request was answered (a short crawl: executionChanged told of its
      // end first, when it was not known as this tab's): its end is announced now, once.
      const endedUnclaimed = options.mine === true && !entry.mine && isTerminal(entry.execution.status);
      if (options.mine) entry.mine = true;
      if (applySnapshot(entry, snapshot, Date.now())) afterStatusChange(entry);
      if (endedUnclaimed) announceEnd(entry.execution);
    }
    if (!isTerminal(entry.execution.status) && watchers.has(snapshot.id)) follow(snapshot.id);
    return entry;
  }

  /** A view shows this execution's progress: jobProgress is followed while one holds it. Returns the release. */
  const watchLive = (id: string): (() => void) => watchers.hold(id);

  /** Applies one jobProgress event to its entry (see lib/reconcile.ts). */
  function applyEvent(event: ExecutionEvent): void {
    const entry = entries.get(event.executionId);
    if (entry && reconcileEvent(entry, event)) afterStatusChange(entry);
  }

  /** Once terminal: stop following, and announce the end of an execution this tab started, once. */
  function afterStatusChange(entry: ExecutionEntry): void {
    const { execution } = entry;
    if (!isTerminal(execution.status)) return;
    ended(execution.id);
    if (!settleEnd(entry)) return;
    capEndedCards(entries.values(), MAX_ENDED_CARDS);
    if (entry.mine) announceEnd(execution);
  }

  /** A toast (and a notification when the tab is hidden) saying how an execution this tab started ended. */
  function announceEnd(execution: Execution): void {
    const title = `${kindWord(execution.kind)} ${statusWord(execution.status).toLowerCase()}`;
    const message = execution.error ? `${execution.title}: ${execution.error}` : execution.title;
    const tone = execution.status === 'SUCCEEDED' ? 'success' : execution.status === 'FAILED' ? 'error' : 'info';
    toasts.push({ tone, title, message, link: `/executions/${execution.id}` });
    notifications.notify(title, message);
  }

  /**
   * Starts following the system: executionChanged, then what is active now, read once the socket
   * carrying executionChanged is acknowledged (so nothing started meanwhile is missed). Idempotent.
   */
  async function start(): Promise<void> {
    liveError.value = null;
    changes ??= connection
      .client()
      .subscription(ExecutionChangedSubscription, {})
      .subscribe((result) => {
        if (result.data?.executionChanged) ingest(result.data.executionChanged);
        if (result.error) {
          changes?.unsubscribe();
          changes = null;
          liveError.value = toAppError(result.error).message;
        }
      });
    await connection.settled();
    await loadActive();
  }

  /** Stops every subscription (tests, app teardown). The executions themselves go on. */
  function stop(): void {
    changes?.unsubscribe();
    changes = null;
    unfollowAll();
  }

  /** Asks the server what is active; what we thought active but is not gets its true status. */
  async function loadActive(): Promise<void> {
    const request = connection.client().query(ActiveExecutionsQuery, {}).toPromise();
    const data = await intoState(active, request, (data) => {
      for (const execution of data.activeExecutions) ingest(execution);
    });
    if (!data) return;
    const serverActive = new Set(data.activeExecutions.map((execution) => execution.id));
    const vanished = [...entries.values()].filter(
      (entry) => !isTerminal(entry.execution.status) && !serverActive.has(entry.execution.id),
    );
    await Promise.all(vanished.map((entry) => refresh(entry.execution.id)));
  }

  /** Re-reads one execution from the server. */
  async function refresh(id: string): Promise<void> {
    const result = await connection.client().query(ExecutionQuery, { id }).toPromise();
    if (result.data?.execution) ingest(result.data.execution);
  }

  /** Loads the newest of the history into the store's cache (the crawl page's recent list); `list()` then shows it, live. */
  async function loadHistory(filter: ExecutionFilter = {}): Promise<void> {
    const variables = {
      kind: filter.kind ?? null,
      status: filter.statuses?.length ? filter.statuses : null,
      limit: filter.limit ?? HISTORY_LIMIT,
    };
    const request = connection.client().query(ExecutionHistoryQuery, variables).toPromise();
    await intoState(history, request, (data) => {
      for (const execution of data.executionHistory.executions) ingest(execution);
    });
  }

  /** Moves an execution that ended while watched from the live cards to the history. */
  function dismiss(id: string): void {
    const entry = entries.get(id);
    if (entry) entry.endedLive = false;
  }

  /** After a reconnect: resubscribe from the last seq seen and ask again what is active. */
  async function catchUp(): Promise<void> {
    refollowAll();
    await loadActive();
  }

  watch(
    () => connection.reconnects,
    () => {
      if (changes) void catchUp();
    },
  );

  /** After a sign-in or sign-out (a new socket): subscribe again and ask what is active; a sign-out forgets what was seen. */
  async function resume(): Promise<void> {
    const wasStarted = changes !== null || active.value.status !== 'idle';
    stop();
    if (!auth.signedIn) entries.clear();
    if (wasStarted) await start();
  }

  watch(() => connection.epoch, () => void resume());

  const timeoutMs = readSettings().stopTimeoutMs;
  const { cancel, cancelMany } = stopActions({ entries, ingest, client: () => connection.client(), toasts, timeoutMs });
  const paged = historyActions({ client: () => connection.client(), ingest });
  const { pauseExecution, resumeExecution, pauseMany, resumeMany } = pauseActions({ entries, ingest, client: () => connection.client(), toasts });

  return {
    entries,
    active,
    history,
    liveError,
    retryFollow,
    watchLive,
    watchLog,
    activeEntries,
    runningCount,
    get,
    list,
    ingest,
    applyEvent,
    start,
    stop,
    loadActive,
    loadHistory,
    historyPage: paged.pageState,
    historyMore: paged.moreState,
    historyRows: paged.rows,
    historyNext: paged.nextCursor,
    historyTotal: paged.totalCount,
    historyFilter: paged.filter,
    loadPagedHistory: paged.loadPaged,
    loadMoreHistory: paged.loadMore,
    clearPagedHistory: paged.clearPaged,
    refresh,
    cancel,
    cancelMany,
    pauseExecution,
    resumeExecution,
    pauseMany,
    resumeMany,
    dismiss,
  };
});

if (import.meta.hot) import.meta.hot.accept(acceptHMRUpdate(useExecutionsStore, import.meta.hot));
