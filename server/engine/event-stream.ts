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
 * An async generator that its consumer can leave while it waits. A plain generator parked in an
 * `await` queues a `return()` until that await settles (the next event, maybe never), so a client
 * that left would stay counted and keep polling. Here `return()` aborts `left`, which wakes every
 * wait of the body at once; the body then ends and runs its `finally`, and `onLeave` runs at once.
 */
function leavable<T>(body: (left: AbortSignal) => AsyncGenerator<T>, onLeave?: () => void): AsyncGenerator<T> {
  const controller = new AbortController();
  const inner = body(controller.signal);
  const leave = async (): Promise<IteratorResult<T>> => {
    controller.abort();
    onLeave?.();
    await inner.return(undefined);
    return { done: true, value: undefined };
  };
  const outer: AsyncGenerator<T> = {
    next: () => inner.next(),
    return: leave,
    throw: async (error: unknown) => {
      await leave();
      throw error;
    },
    [Symbol.asyncIterator]: () => outer,
  };
  return outer;
}

/** `release`, callable any number of times, running once. */
function once(release: (() => void) | undefined): (() => void) | undefined {
  if (!release) return undefined;
  let done = false;
  return () => {
    if (!done) release();
    done = true;
  };
}

/** Resolves true when `arm` calls its wake, false after `timeoutMs` or when `left` aborts. */
function waitFor(arm: (wake: () => void) => void, left: AbortSignal, timeoutMs?: number): Promise<boolean> {
  return new Promise<boolean>((resolve) => {
    if (left.aborted) return resolve(false);
    const timer = timeoutMs === undefined ? undefined : setTimeout(() => settle(false), timeoutMs);
    const onAbort = (): void => settle(false);
    function settle(woken: boolean): void {
      clearTimeout(timer);
      left.removeEventListener('abort', onAbort);
      resolve(woken);
    }
    left.addEventListener('abort', onAbort, { once: true });
    arm(() => settle(true));
  });
}

/**
 * The events of one execution after `afterSeq`: first replayed from the log, then live from pub/sub,
 * with no gap and no duplicate at the seam, ending after the terminal event. The live subscription
 * starts before the log is read; live events at or below the last seq sent are dropped, and a live
 * event beyond the next seq (a lost or reordered message) makes it refill the gap from the log.
 * The log is read a page at a time, and a subscriber that falls far behind the live stream is
 * switched back to the log, so neither a long history nor a slow client holds much memory.
 * A subscriber that leaves is released at once, even while the stream waits for an event.
 */
export function replayThenLive(
  store: Store,
  pubsub: SluicePubSub,
  executionId: string,
  afterSeq: number,
  /** Counts this stream as live from its first read until it ends or its subscriber leaves (metrics). */
  track?: () => () => void,
): AsyncGenerator<ExecutionEvent> {
  let release: (() => void) | undefined;
  return leavable(
    async function* (left) {
      release = once(track?.());
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
        while (!done && !left.aborted && last < until) {
          const page = await store.listEvents(executionId, last, Math.min(REPLAY_PAGE, until - last));
          for (const event of page) yield* send(event);
          if (page.length < REPLAY_PAGE) return;
        }
      }
      function* send(event: ExecutionEvent): Generator<ExecutionEvent> {
        if (done || left.aborted || event.seq <= last) return;
        yield event;
        last = event.seq;
        done = isTerminalEvent(event);
      }

      try {
        yield* fromLog();
        const row = await store.getExecution(executionId);
        if (done || !row || (isTerminal(row.status) && last >= row.lastSeq)) return;
        while (!done && !left.aborted) {
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
          const woken = await waitFor((wake) => (live.wake = wake), left, store.exclusive ? undefined : IDLE_REFILL_MS);
          live.wake = null;
          if (!woken) yield* fromLog();
        }
      } finally {
        unlisten();
        release?.();
      }
    },
    () => release?.(),
  );
}

/**
 * Status changes of every execution, live. A slow subscriber is never handed a backlog: changes
 * waiting for it are kept as one row per execution (bounded by the executions that changed), which
 * is what a client mirroring activeExecutions needs. That row is the one with the highest lastSeq,
 * not the one that arrived last: from several nodes an older change (CANCELLING) can arrive after a
 * newer one (CANCELLED), and must not hide it. For the same reason a change older than one already
 * sent is dropped (remembered for the most recent executions only, so memory stays bounded).
 */
export function latestChanges(pubsub: SluicePubSub, track?: () => () => void): AsyncGenerator<Execution> {
  let release: (() => void) | undefined;
  return leavable(
    async function* (left) {
      release = once(track?.());
      const pending = new Map<string, Execution>();
      const sent = new Map<string, number>();
      let wake = null as (() => void) | null;
      const unlisten = pubsub.listen('execution:changed', null, (execution) => {
        const waiting = pending.get(execution.id);
        if (waiting && waiting.lastSeq > execution.lastSeq) return;
        const sentSeq = sent.get(execution.id);
        if (sentSeq !== undefined && sentSeq > execution.lastSeq) return;
        pending.delete(execution.id); // re-inserted last: the queue stays in order of the latest change
        pending.set(execution.id, execution);
        wake?.();
      });
      try {
        while (!left.aborted) {
          const next = pending.values().next();
          if (!next.done) {
            pending.delete(next.value.id);
            remember(sent, next.value.id, next.value.lastSeq);
            yield next.value;
            continue;
          }
          await waitFor((w) => (wake = w), left);
          wake = null;
        }
      } finally {
        unlisten();
        release?.();
      }
    },
    () => release?.(),
  );
}

/** Executions whose last sent lastSeq a changes stream remembers. */
const REMEMBERED = 1000;

function remember(sent: Map<string, number>, id: string, lastSeq: number): void {
  sent.delete(id);
  sent.set(id, lastSeq);
  if (sent.size > REMEMBERED) sent.delete(sent.keys().next().value!);
}
