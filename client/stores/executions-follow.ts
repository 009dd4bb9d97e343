import type { Client } from '@urql/core';
import { JobProgressSubscription, type ExecutionEvent } from '../graphql/documents.ts';
import { toAppError } from '../graphql/errors.ts';
import { firstCursor, type ExecutionEntry } from '../lib/reconcile.ts';
import { refCounter } from '../lib/ref-count.ts';
import { isTerminal } from '../lib/status.ts';

export interface FollowContext {
  entries: Map<string, ExecutionEntry>;
  client(): Client;
  /** Applies one jobProgress event to its entry (the executions store's applyEvent). */
  applyEvent(event: ExecutionEvent): void;
}

/** How many events a first subscription to a crawl replays (each carries the whole progress). */
const LOG_REPLAY = 30;

/**
 * The jobProgress subscriptions of the executions store: at most one per execution, kept by id
 * (so a route change never tears one down), from the last seq seen, while a view watches it or a
 * page reads its whole log through it.
 */
export function followActions({ entries, client, applyEvent }: FollowContext) {
  /** jobProgress subscriptions by execution id, with the seq each started after; not state, only handles to close. */
  const following = new Map<string, { unsubscribe(): void; afterSeq: number }>();
  /** Who reads every event of an execution's one subscription (its page's whole log), by id. */
  const logListeners = new Map<string, Set<(event: ExecutionEvent) => void>>();
  /** The views that show each execution's live progress (a card, a detail page, a chat answer). */
  const watchers = refCounter(follow, unfollow);

  /**
   * Subscribes to jobProgress of an execution, from the last seq seen (or `fromSeq`, when a log
   * reader wants older events: the store drops what it applied already); one subscription per id.
   */
  function follow(id: string, fromSeq?: number): void {
    const entry = entries.get(id);
    if (!entry || following.has(id) || isTerminal(entry.execution.status)) return;
    if (entry.eventSeq === 0) {
      entry.eventSeq = firstCursor(entry.execution, LOG_REPLAY);
      entry.answerComplete = entry.eventSeq === 0;
    }
    const variables = { executionId: id, afterSeq: Math.min(fromSeq ?? entry.eventSeq, entry.eventSeq) };
    entry.liveError = null;
    const subscription = client()
      .subscription(JobProgressSubscription, variables)
      .subscribe((result) => {
        const event = result.data?.jobProgress;
        if (event) {
          applyEvent(event);
          for (const listener of logListeners.get(id) ?? []) listener(event);
          if (isTerminal(event.status) && event.type === 'STATUS') unfollow(id);
        }
        // NOT_FOUND or a broken stream: stop following and say so on the card (it offers a retry).
        if (result.error) {
          unfollow(id);
          entry.liveError = toAppError(result.error).message;
        }
      });
    // A synchronous replay may already have delivered the terminal event.
    if (isTerminal(entry.execution.status)) subscription.unsubscribe();
    else following.set(id, { unsubscribe: () => subscription.unsubscribe(), afterSeq: variables.afterSeq });
  }

  function unfollow(id: string): void {
    following.get(id)?.unsubscribe();
    following.delete(id);
  }

  /** An execution ended: stop following it, unless a whole-log reader (its page) still wants the terminal event. */
  function ended(id: string): void {
    if (!logListeners.has(id)) unfollow(id);
  }

  /**
   * Every event of an execution after `afterSeq` to `listener`, then live, through the store's one
   * jobProgress subscription of it (restarted from `afterSeq` if it began later), so a page that
   * shows the whole log adds no second subscription; an execution that ended gets a replay of its
   * own, which completes. Returns the release.
   */
  function watchLog(id: string, afterSeq: number, listener: (event: ExecutionEvent) => void, onError: (message: string) => void): () => void {
    const entry = entries.get(id);
    if (!entry || isTerminal(entry.execution.status)) {
      const replay = client()
        .subscription(JobProgressSubscription, { executionId: id, afterSeq })
        .subscribe((result) => {
          if (result.data?.jobProgress) listener(result.data.jobProgress);
          if (result.error) onError(toAppError(result.error).message);
        });
      return () => replay.unsubscribe();
    }
    let listeners = logListeners.get(id);
    if (!listeners) logListeners.set(id, (listeners = new Set()));
    listeners.add(listener);
    const current = following.get(id);
    if (current && current.afterSeq > afterSeq) unfollow(id);
    if (!following.has(id)) follow(id, afterSeq);
    const release = watchers.hold(id);
    return () => {
      listeners.delete(listener);
      if (listeners.size === 0) logListeners.delete(id);
      release();
    };
  }

  /** Follows an execution's live progress again after its stream failed (the card's Retry). */
  function retryFollow(id: string): void {
    unfollow(id);
    follow(id);
  }

  /** Ends every subscription (the store stops). */
  function unfollowAll(): void {
    for (const id of [...following.keys()]) unfollow(id);
  }

  /** After a reconnect: every subscription again, from the last seq seen. */
  function refollowAll(): void {
    const ids = [...following.keys()];
    for (const id of ids) unfollow(id);
    for (const id of ids) follow(id);
  }

  return { watchers, follow, ended, watchLog, retryFollow, unfollowAll, refollowAll };
}
