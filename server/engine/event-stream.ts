import type { SluicePubSub } from '../pubsub.ts';
import type { Store } from '../store/store.ts';
import { isTerminal } from '../executions/status.ts';
import type { Execution, ExecutionEvent } from '../executions/types.ts';

const isTerminalEvent = (event: ExecutionEvent): boolean => event.type === 'STATUS' && isTerminal(event.status);

/**
 * With a shared store (several nodes), events cross the network by Redis and one can be lost (an
 * outage, a re-subscribe after a reconnect). A gap is refilled when a later event shows it, but a
 * lost last event has no later one: so a stream that heard nothing for this long re-reads the log.
 */
const IDLE_REFILL_MS = 2000;

/** Live events held for a slow subscriber before it falls back to reading the log. */
const MAX_BUFFERED = 1000;
/** Events read from the log at a time (replay, gap refill). */
const REPLAY_PAGE = 500;

/**
 * The events of one execution after `afterSeq`: first replayed from the log, then live from pub/sub,
 * with no gap and no duplicate at the seam, ending after the terminal event. The live subscription
 * starts before the log is read; live events at or below the last seq sent are dropped, and a live
 * event beyond the next seq (a lost or reordered message) makes it refill the gap from the log.
 * The log is read a page at a time, and a subscriber that falls far behind the live stream is
 * switched back to the log, so neither a long history nor a slow client holds much memory.
 */
export async function* replayThenLive(
  store: Store,
  pubsub: SluicePubSub,
  executionId: string,
  afterSeq: number,
  /** Counts this stream as live from its first read until it ends or its subscriber leaves (metrics). */
  track?: () => () => void,
): AsyncGenerator<ExecutionEvent> {
  const release = track?.();
  const live = { buffer: [] as ExecutionEvent[], overflowed: false, wake: null as (() => void) | null };
  // Listening starts before the log is read, so nothing falls between the replay and the live part.
  const unlisten = pubsub.listen('execution:event', executionId, (event) => {
    live.buffer.push(event);
    // A subscriber this far behind reads from the log instead: memory stays bounded.
    if (live.buffer.length > MAX_BUFFERED) {
      live.buffer.length = 0;
      live.overflowed = true;
    }
    live.wake?.();
  });

  let last = afterSeq;
  let done = false;
  /** Sends the logged events after `last` (up to `until`), a page at a time. */
  async function* fromLog(until = Infinity): AsyncGenerator<ExecutionEvent> {
    while (!done && last < until) {
      const page = await store.listEvents(executionId, last, Math.min(REPLAY_PAGE, until - last));
      for (const event of page) yield* send(event);
      if (page.length < REPLAY_PAGE) return;
    }
  }
  function* send(event: ExecutionEvent): Generator<ExecutionEvent> {
    if (done || event.seq <= last) return;
    yield event;
    last = event.seq;
    done = isTerminalEvent(event);
  }

  try {
    yield* fromLog();
    const row = await store.getExecution(executionId);
    if (done || !row || (isTerminal(row.status) && last >= row.lastSeq)) return;
    while (!done) {
      if (live.overflowed) {
        live.overflowed = false;
        yield* fromLog();
      }
      const event = live.buffer.shift();
      if (event) {
        // A live event beyond the next seq: a message was lost or overtaken; the log has the rest.
        if (event.seq > last + 1) yield* fromLog(event.seq - 1);
        yield* send(event);
        continue;
      }
      let timer: NodeJS.Timeout | undefined;
      const woken = await new Promise<boolean>((resolve) => {
        live.wake = () => resolve(true);
        if (!store.exclusive) timer = setTimeout(() => resolve(false), IDLE_REFILL_MS);
      });
      clearTimeout(timer);
      live.wake = null;
      if (!woken) yield* fromLog();
    }
  } finally {
    unlisten();
    release?.();
  }
}

/**
 * Status changes of every execution, live. A slow subscriber is never handed a backlog: changes
 * waiting for it are kept as the newest row per execution (bounded by the executions that changed),
 * which is what a client mirroring activeExecutions needs.
 */
export async function* latestChanges(pubsub: SluicePubSub, track?: () => () => void): AsyncGenerator<Execution> {
  const release = track?.();
  const pending = new Map<string, Execution>();
  let wake = null as (() => void) | null;
  const unlisten = pubsub.listen('execution:changed', null, (execution) => {
    pending.delete(execution.id); // re-inserted last: the queue stays in order of the latest change
    pending.set(execution.id, execution);
    wake?.();
  });
  try {
    for (;;) {
      const next = pending.values().next();
      if (!next.done) {
        pending.delete(next.value.id);
        yield next.value;
        continue;
      }
      await new Promise<void>((resolve) => (wake = resolve));
      wake = null;
    }
  } finally {
    unlisten();
    release?.();
  }
}
