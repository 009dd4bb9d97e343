import { defineStore } from 'pinia';
import { computed, reactive, ref, watch } from 'vue';
import {
  ActiveExecutionsQuery,
  CancelExecutionMutation,
  ExecutionChangedSubscription,
  ExecutionHistoryQuery,
  ExecutionQuery,
  JobProgressSubscription,
} from '../graphql/documents.ts';
import { toAppError, type AppError } from '../graphql/errors.ts';
import type { Execution, ExecutionEvent, ExecutionKind, ExecutionStatus, Progress } from '../graphql/documents.ts';
import { isActive, isTerminal } from '../lib/status.ts';
import { idleState, type AsyncState } from '../lib/async.ts';
import { kindWord, statusWord } from '../lib/format.ts';
import { useAuthStore } from './auth.ts';
import { useClockStore } from './clock.ts';
import { useConnectionStore } from './connection.ts';
import { useNotificationsStore } from './notifications.ts';
import { useToastsStore } from './toasts.ts';

export interface LogLine {
  seq: number;
  at: string;
  type: 'LOG' | 'PAGE';
  message: string;
}

/**
 * What the client knows of one execution. `execution` is a cache of the server's row, updated by
 * snapshots (queries, executionChanged, mutation answers) and by the events of jobProgress; the seq
 * numbers decide which of them is newer, so a late answer never overwrites a fresher state.
 */
export interface ExecutionEntry {
  execution: Execution;
  /** Seq of the status and progress shown (from an event or a snapshot's lastSeq). */
  stateSeq: number;
  /** Highest event seq applied; the cursor for jobProgress(afterSeq). */
  eventSeq: number;
  /** The latest log and page lines, oldest first. */
  logs: LogLine[];
  /** The answer text of a chat execution, from its TOKEN events. */
  answer: string;
  /** True when `answer` was built from the first event on, so it holds the whole text. */
  answerComplete: boolean;
  /** Date.now() when `execution.durationMs` arrived, so the elapsed time can tick locally. */
  receivedAt: number;
  /** Server time of the terminal event, when that came from an event rather than a snapshot. */
  endedAt: string | null;
  /** A Stop is in flight: the UI shows "Stopping…" until the server answers. */
  stopping: boolean;
  /** Started by this tab: its end earns a toast (and a notification when the tab is hidden). */
  mine: boolean;
  /** The end was announced already (toast), so a replay cannot announce it twice. */
  announced: boolean;
  /** It ended while this tab watched: views keep its card in place (showing how it ended) until dismissed. */
  endedLive: boolean;
}

export interface ExecutionFilter {
  kind?: ExecutionKind | null;
  statuses?: ExecutionStatus[] | null;
  limit?: number;
}

/** Log lines kept per execution, and how many of them a first subscription replays. */
const MAX_LOG_LINES = 200;
const LOG_REPLAY = 30;
const HISTORY_LIMIT = 50;

/** Shown as a live card: still active, or ended while this tab watched and not dismissed. */
export function isLive(entry: ExecutionEntry): boolean {
  return !isTerminal(entry.execution.status) || entry.endedLive;
}

/** The status a person should see: "Stopping…" while a Stop is in flight, else the server's. */
export function displayStatus(entry: ExecutionEntry): ExecutionStatus {
  const status = entry.execution.status;
  return entry.stopping && !isTerminal(status) ? 'CANCELLING' : status;
}

/** Takes the newer progress, but never lets the percent or a counter go down. */
export function mergeProgress(old: Progress, next: Progress): Progress {
  const percent =
    next.percent === null ? old.percent : old.percent === null ? next.percent : Math.max(old.percent, next.percent);
  return {
    ...next,
    percent,
    pagesDiscovered: Math.max(old.pagesDiscovered, next.pagesDiscovered),
    pagesFetched: Math.max(old.pagesFetched, next.pagesFetched),
    pagesFailed: Math.max(old.pagesFailed, next.pagesFailed),
    pagesSkipped: Math.max(old.pagesSkipped, next.pagesSkipped),
    bytesFetched: Math.max(old.bytesFetched, next.bytesFetched),
    chunksStored: Math.max(old.chunksStored, next.chunksStored),
  };
}

/** Milliseconds the execution has run: ticking while active, fixed once it ended. */
export function elapsedMs(entry: ExecutionEntry, now: number): number | null {
  const { execution } = entry;
  const { startedAt, finishedAt, durationMs } = execution;
  if (isTerminal(execution.status)) {
    const end = finishedAt ?? entry.endedAt;
    if (startedAt && end) return Date.parse(end) - Date.parse(startedAt);
    return durationMs;
  }
  if (execution.status === 'QUEUED' || !startedAt) return durationMs;
  // Count from the server's own figure so a skewed browser clock does not show nonsense.
  if (durationMs !== null) return durationMs + (now - entry.receivedAt);
  return now - Date.parse(startedAt);
}

/**
 * The executions of the system, live. Owns the activeExecutions and history queries, the one
 * executionChanged subscription, one jobProgress subscription per active execution (kept here,
 * keyed by id, so a route change never tears one down) and the Stop mutations.
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
  /** jobProgress subscriptions by execution id; not state, only handles to close. */
  const following = new Map<string, { unsubscribe(): void }>();
  let changes: { unsubscribe(): void } | null = null;

  const activeEntries = computed(() =>
    sortNewestFirst([...entries.values()].filter((entry) => isActive(entry.execution.status))),
  );
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
      entries.set(snapshot.id, {
        execution: snapshot,
        stateSeq: snapshot.lastSeq,
        eventSeq: 0,
        logs: [],
        answer: '',
        answerComplete: false,
        receivedAt: Date.now(),
        endedAt: null,
        stopping: false,
        mine: options.mine ?? false,
        // What had ended before we saw it is history, not news.
        announced: isTerminal(snapshot.status),
        endedLive: false,
      });
      entry = entries.get(snapshot.id) as ExecutionEntry;
    } else {
      if (options.mine) entry.mine = true;
      applySnapshot(entry, snapshot);
    }
    if (!isTerminal(entry.execution.status)) follow(snapshot.id);
    return entry;
  }

  function applySnapshot(entry: ExecutionEntry, snapshot: Execution): void {
    if (snapshot.lastSeq < entry.stateSeq) return; // older than what we show
    if (isTerminal(entry.execution.status) && !isTerminal(snapshot.status)) return; // nothing leaves a terminal state
    const progress = mergeProgress(entry.execution.progress, snapshot.progress);
    entry.execution = { ...snapshot, progress };
    entry.stateSeq = snapshot.lastSeq;
    entry.receivedAt = Date.now();
    afterStatusChange(entry);
  }

  /** Applies one jobProgress event: duplicates (seq already seen) are dropped. */
  function applyEvent(event: ExecutionEvent): void {
    const entry = entries.get(event.executionId);
    if (!entry || event.seq <= entry.eventSeq) return;
    entry.eventSeq = event.seq;
    if ((event.type === 'LOG' || event.type === 'PAGE') && event.message) {
      entry.logs.push({ seq: event.seq, at: event.at, type: event.type, message: event.message });
      if (entry.logs.length > MAX_LOG_LINES) entry.logs.splice(0, entry.logs.length - MAX_LOG_LINES);
    }
    if (event.type === 'TOKEN' && event.message) entry.answer += event.message;
    if (event.seq <= entry.stateSeq) return;
    if (isTerminal(entry.execution.status) && !isTerminal(event.status)) return;
    const wasTerminal = isTerminal(entry.execution.status);
    entry.execution = {
      ...entry.execution,
      status: event.status,
      progress: mergeProgress(entry.execution.progress, event.progress),
      lastSeq: Math.max(entry.execution.lastSeq, event.seq),
    };
    entry.stateSeq = event.seq;
    if (!wasTerminal && isTerminal(event.status)) entry.endedAt = event.at;
    afterStatusChange(entry);
  }

  /** Announces the end of an execution this tab started, once. */
  function afterStatusChange(entry: ExecutionEntry): void {
    const { execution } = entry;
    if (!isTerminal(execution.status)) return;
    entry.stopping = false;
    unfollow(execution.id);
    if (entry.announced) return;
    entry.announced = true;
    entry.endedLive = true;
    if (!entry.mine) return;
    const title = `${kindWord(execution.kind)} ${statusWord(execution.status).toLowerCase()}`;
    const message = execution.error ? `${execution.title}: ${execution.error}` : execution.title;
    const tone = execution.status === 'SUCCEEDED' ? 'success' : execution.status === 'FAILED' ? 'error' : 'info';
    toasts.push({ tone, title, message });
    notifications.notify(title, message);
  }

  /** Subscribes to jobProgress of an execution, from the last seq seen; one subscription per id. */
  function follow(id: string): void {
    const entry = entries.get(id);
    if (!entry || following.has(id) || isTerminal(entry.execution.status)) return;
    if (entry.eventSeq === 0) {
      // A chat answer is replayed from its first token; a crawl only from its recent log lines,
      // since every event carries the whole progress.
      const cursor = entry.execution.kind === 'CHAT' ? 0 : Math.max(0, entry.execution.lastSeq - LOG_REPLAY);
      entry.eventSeq = cursor;
      entry.answerComplete = cursor === 0;
    }
    const variables = { executionId: id, afterSeq: entry.eventSeq };
    const subscription = connection
      .client()
      .subscription(JobProgressSubscription, variables)
      .subscribe((result) => {
        if (result.data?.jobProgress) applyEvent(result.data.jobProgress);
        if (result.error) {
          // NOT_FOUND or a broken stream: stop following; the next reconnect or reload asks again.
          following.get(id)?.unsubscribe();
          following.delete(id);
        }
      });
    // A synchronous replay may already have delivered the terminal event.
    if (isTerminal(entry.execution.status)) subscription.unsubscribe();
    else following.set(id, subscription);
  }

  function unfollow(id: string): void {
    following.get(id)?.unsubscribe();
    following.delete(id);
  }

  /** Starts following the system: executionChanged, then what is active now. Idempotent. */
  async function start(): Promise<void> {
    if (!changes) {
      changes = connection
        .client()
        .subscription(ExecutionChangedSubscription, {})
        .subscribe((result) => {
          if (result.data?.executionChanged) ingest(result.data.executionChanged);
        });
    }
    await loadActive();
  }

  /** Stops every subscription (tests, app teardown). The executions themselves go on. */
  function stop(): void {
    changes?.unsubscribe();
    changes = null;
    for (const id of [...following.keys()]) unfollow(id);
  }

  /** Asks the server what is active; what we thought active but is not gets its true status. */
  async function loadActive(): Promise<void> {
    active.value = { status: 'loading', error: null };
    const result = await connection.client().query(ActiveExecutionsQuery, {}).toPromise();
    if (result.error || !result.data) {
      active.value = { status: 'error', error: toAppError(result.error ?? new Error('No data')) };
      return;
    }
    const serverActive = new Set(result.data.activeExecutions.map((execution) => execution.id));
    for (const execution of result.data.activeExecutions) ingest(execution);
    const vanished = [...entries.values()].filter(
      (entry) => !isTerminal(entry.execution.status) && !serverActive.has(entry.execution.id),
    );
    await Promise.all(vanished.map((entry) => refresh(entry.execution.id)));
    active.value = { status: 'ready', error: null };
  }

  /** Re-reads one execution from the server. */
  async function refresh(id: string): Promise<void> {
    const result = await connection.client().query(ExecutionQuery, { id }).toPromise();
    if (result.data?.execution) ingest(result.data.execution);
  }

  /** Loads the history (newest first) into the store; `list()` then shows it, live. */
  async function loadHistory(filter: ExecutionFilter = {}): Promise<void> {
    history.value = { status: 'loading', error: null };
    const variables = {
      kind: filter.kind ?? null,
      status: filter.statuses?.length ? filter.statuses : null,
      limit: filter.limit ?? HISTORY_LIMIT,
    };
    const result = await connection.client().query(ExecutionHistoryQuery, variables).toPromise();
    if (result.error || !result.data) {
      history.value = { status: 'error', error: toAppError(result.error ?? new Error('No data')) };
      return;
    }
    for (const execution of result.data.executions) ingest(execution);
    history.value = { status: 'ready', error: null };
  }

  /** Moves an execution that ended while watched from the live cards to the history. */
  function dismiss(id: string): void {
    const entry = entries.get(id);
    if (entry) entry.endedLive = false;
  }

  /** After a reconnect: resubscribe from the last seq seen and ask again what is active. */
  async function catchUp(): Promise<void> {
    const ids = [...following.keys()];
    for (const id of ids) unfollow(id);
    for (const id of ids) follow(id);
    await loadActive();
  }

  watch(
    () => connection.reconnects,
    () => {
      if (changes) void catchUp();
    },
  );

  /**
   * After a sign-in or sign-out the socket is new and its subscriptions are gone: subscribe again
   * (jobProgress from the last seq seen) and ask what is active. A sign-out also forgets what the
   * previous token could see.
   */
  async function resume(): Promise<void> {
    const wasStarted = changes !== null || active.value.status !== 'idle';
    stop();
    if (!auth.signedIn) entries.clear();
    if (wasStarted) await start();
  }

  watch(
    () => connection.epoch,
    () => void resume(),
  );

  /**
   * Stop: "Stopping…" at once, then the server's truth. On failure the entry returns to what the
   * server last said and the error is returned (cancel() toasts it; cancelMany() sums them up).
   */
  async function requestCancel(id: string): Promise<AppError | null> {
    const entry = entries.get(id);
    if (!entry || entry.stopping || isTerminal(entry.execution.status)) return null;
    entry.stopping = true;
    const result = await connection.client().mutation(CancelExecutionMutation, { id }).toPromise();
    entry.stopping = false;
    if (result.error || !result.data) return toAppError(result.error ?? new Error('No answer from the server'));
    const { accepted, execution } = result.data.cancelExecution;
    ingest(execution);
    if (!accepted) {
      toasts.push({
        tone: 'info',
        title: `Already ${statusWord(execution.status).toLowerCase()}`,
        message: `${execution.title} had ended before the Stop arrived.`,
      });
    }
    return null;
  }

  /** Stops one execution; a failure rolls back and says why in a toast. */
  async function cancel(id: string): Promise<boolean> {
    const error = await requestCancel(id);
    // FORBIDDEN has its own toast (naming the scope), from the connection store.
    if (error && error.code !== 'FORBIDDEN') {
      const title = entries.get(id)?.execution.title ?? id;
      toasts.push({ tone: 'error', title: 'Could not stop', message: `${title}: ${error.message}` });
    }
    return error === null;
  }

  /** Stops several at once: all show "Stopping…" together; failures are summed up in one toast. */
  async function cancelMany(ids: string[]): Promise<number> {
    const errors = await Promise.all(ids.map((id) => requestCancel(id)));
    const failed = errors.filter((error): error is AppError => error !== null);
    if (failed.some((error) => error.code !== 'FORBIDDEN')) {
      toasts.push({
        tone: 'error',
        title: `Could not stop ${failed.length} of ${ids.length}`,
        message: [...new Set(failed.map((error) => error.message))].join(' · '),
      });
    }
    return ids.length - failed.length;
  }

  return {
    entries,
    active,
    history,
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
    refresh,
    cancel,
    cancelMany,
    dismiss,
  };
});

function sortNewestFirst(list: ExecutionEntry[]): ExecutionEntry[] {
  return list.sort(
    (a, b) =>
      b.execution.createdAt.localeCompare(a.execution.createdAt) || b.execution.id.localeCompare(a.execution.id),
  );
}
