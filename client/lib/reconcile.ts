import type { Execution, ExecutionEvent, ExecutionStatus, Progress } from '../graphql/documents.ts';
import { isTerminal } from './status.ts';

// Pure reconciliation of the server's executions: snapshots (queries, executionChanged, mutation
// answers) and jobProgress events folded into one entry per execution. No Vue, no network: the
// executions store wires these to its subscriptions, and test/unit/client-reconcile.test.ts tests
// them as plain functions.

export interface LogLine {
  seq: number;
  at: string;
  type: 'LOG' | 'PAGE';
  message: string;
}

/**
 * What the client knows of one execution. `execution` is a cache of the server's row; the seq
 * numbers decide which of a snapshot and an event is newer, so a late answer never overwrites a
 * fresher state.
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
  /** A Pause or Resume is in flight: the UI shows PAUSED (or QUEUED) at once, until the server answers. */
  control: 'pausing' | 'resuming' | null;
  /** Started by this tab: its end earns a toast (and a notification when the tab is hidden). */
  mine: boolean;
  /** The end was announced already (toast), so a replay cannot announce it twice. */
  announced: boolean;
  /** It ended while this tab watched: views keep its card in place (showing how it ended) until dismissed. */
  endedLive: boolean;
  /** Why its live progress stopped (a jobProgress error); the card says so and offers a retry. */
  liveError: string | null;
}

/** Log lines kept per execution. */
export const MAX_LOG_LINES = 200;

/** A new entry for an execution first seen in `snapshot`; what had ended before is history, not news. */
export function newEntry(snapshot: Execution, now: number, mine = false): ExecutionEntry {
  return {
    execution: snapshot,
    stateSeq: snapshot.lastSeq,
    eventSeq: 0,
    logs: [],
    answer: '',
    answerComplete: false,
    receivedAt: now,
    endedAt: null,
    stopping: false,
    control: null,
    mine,
    announced: isTerminal(snapshot.status),
    endedLive: false,
    liveError: null,
  };
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

/**
 * Applies a snapshot unless it is older than what the entry shows or would leave a terminal state.
 * Returns true when it was applied.
 */
export function applySnapshot(entry: ExecutionEntry, snapshot: Execution, now: number): boolean {
  if (snapshot.lastSeq < entry.stateSeq) return false;
  if (isTerminal(entry.execution.status) && !isTerminal(snapshot.status)) return false;
  entry.execution = { ...snapshot, progress: mergeProgress(entry.execution.progress, snapshot.progress) };
  entry.stateSeq = snapshot.lastSeq;
  entry.receivedAt = now;
  return true;
}

/**
 * Applies one jobProgress event: a seq already seen is dropped; log, page and token lines are kept
 * even when a snapshot already showed a later state. Returns true when the status or progress moved.
 */
export function applyEvent(entry: ExecutionEntry, event: ExecutionEvent): boolean {
  if (event.seq <= entry.eventSeq) return false;
  entry.eventSeq = event.seq;
  if ((event.type === 'LOG' || event.type === 'PAGE') && event.message) {
    entry.logs.push({ seq: event.seq, at: event.at, type: event.type, message: event.message });
    if (entry.logs.length > MAX_LOG_LINES) entry.logs.splice(0, entry.logs.length - MAX_LOG_LINES);
  }
  if (event.type === 'TOKEN' && event.message) entry.answer += event.message;
  if (event.seq <= entry.stateSeq) return false;
  const wasTerminal = isTerminal(entry.execution.status);
  if (wasTerminal && !isTerminal(event.status)) return false;
  entry.execution = {
    ...entry.execution,
    status: event.status,
    progress: mergeProgress(entry.execution.progress, event.progress),
    lastSeq: Math.max(entry.execution.lastSeq, event.seq),
  };
  entry.stateSeq = event.seq;
  if (!wasTerminal && isTerminal(event.status)) entry.endedAt = event.at;
  return true;
}

/**
 * Marks the end of an execution once: returns true the first time it is seen terminal after being
 * seen active (so the caller announces it), false otherwise. Clears a pending Stop.
 */
export function settleEnd(entry: ExecutionEntry): boolean {
  if (!isTerminal(entry.execution.status)) return false;
  entry.stopping = false;
  if (entry.announced) return false;
  entry.announced = true;
  entry.endedLive = true;
  return true;
}

/** The cursor of a first jobProgress subscription: a chat answer from its first token, a crawl from its recent lines. */
export function firstCursor(execution: Execution, logReplay: number): number {
  return execution.kind === 'CHAT' ? 0 : Math.max(0, execution.lastSeq - logReplay);
}

/** Shown as a live card: still active, or ended while this tab watched and not dismissed. */
export function isLive(entry: ExecutionEntry): boolean {
  return !isTerminal(entry.execution.status) || entry.endedLive;
}

/**
 * The status a person should see: "Stopping…" while a Stop is in flight, Paused while a Pause is
 * (Queued while a Resume is), else the server's.
 */
export function displayStatus(entry: ExecutionEntry): ExecutionStatus {
  const status = entry.execution.status;
  if (isTerminal(status)) return status;
  if (entry.stopping) return 'CANCELLING';
  if (entry.control === 'pausing' && (status === 'QUEUED' || status === 'RUNNING')) return 'PAUSED';
  if (entry.control === 'resuming' && status === 'PAUSED') return 'QUEUED';
  return status;
}

/** Pause is offered for what runs or waits and can resume (a crawl; a chat answer cannot). */
export function canPause(entry: ExecutionEntry): boolean {
  const status = displayStatus(entry);
  return entry.execution.kind === 'CRAWL' && (status === 'QUEUED' || status === 'RUNNING');
}

/** Resume is offered for what is paused. */
export function canResume(entry: ExecutionEntry): boolean {
  return displayStatus(entry) === 'PAUSED' && entry.control === null;
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

/** Newest first (by creation, then id so the order is stable). Sorts in place and returns the list. */
export function sortNewestFirst(list: ExecutionEntry[]): ExecutionEntry[] {
  return list.sort(
    (a, b) =>
      b.execution.createdAt.localeCompare(a.execution.createdAt) || b.execution.id.localeCompare(a.execution.id),
  );
}

/**
 * Keeps at most `max` ended cards: the ones that ended longest ago go to the history (endedLive
 * false), so a tab that watched a thousand executions end does not render a thousand cards.
 */
export function capEndedCards(entries: Iterable<ExecutionEntry>, max: number): void {
  const ended = [...entries].filter((entry) => entry.endedLive && isTerminal(entry.execution.status));
  if (ended.length <= max) return;
  ended.sort((a, b) => endTime(a) - endTime(b));
  for (const entry of ended.slice(0, ended.length - max)) entry.endedLive = false;
}

/**
 * The ids to forget so that at most `max` entries stay: finished ones no view holds (`held`) and no
 * card shows, least recently refreshed first. What is active is never forgotten.
 */
export function evictable(entries: Map<string, ExecutionEntry>, max: number, held: (id: string) => boolean): string[] {
  if (entries.size <= max) return [];
  const candidates = [...entries.values()].filter(
    (entry) => isTerminal(entry.execution.status) && !entry.endedLive && !held(entry.execution.id),
  );
  candidates.sort((a, b) => a.receivedAt - b.receivedAt);
  return candidates.slice(0, entries.size - max).map((entry) => entry.execution.id);
}

function endTime(entry: ExecutionEntry): number {
  return Date.parse(entry.endedAt ?? entry.execution.finishedAt ?? entry.execution.createdAt);
}
