import type { SluicePubSub } from '../pubsub.ts';
import type { Store } from '../store/store.ts';
import { isTerminal } from './status.ts';
import type { ExecutionEvent } from './types.ts';

const isTerminalEvent = (event: ExecutionEvent): boolean => event.type === 'STATUS' && isTerminal(event.status);

/**
 * With a shared store (several nodes), events cross the network by Redis and one can be lost (an
 * outage, a re-subscribe after a reconnect). A gap is refilled when a later event shows it, but a
 * lost last event has no later one: so a stream that heard nothing for this long re-reads the log.
 */
const IDLE_REFILL_MS = 2000;

/**
 * The events of one execution after `afterSeq`: first replayed from the log, then live from pub/sub,
 * with no gap and no duplicate at the seam, ending after the terminal event. The live subscription
 * starts before the log is read; live events at or below the last seq sent are dropped, and a live
 * event beyond the next seq (a lost or reordered message) makes it refill the gap from the log.
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
  const iterator = pubsub.subscribe('execution:event', executionId)[Symbol.asyncIterator]();
  const buffer: ExecutionEvent[] = [];
  let ended = false;
  let wake = null as (() => void) | null;
  // Calling next() now (not at the first yield) registers the listener before the log is read.
  void (async () => {
    try {
      for (;;) {
        const next = await iterator.next();
        if (next.done) break;
        buffer.push(next.value);
        wake?.();
      }
    } finally {
      ended = true;
      wake?.();
    }
  })();

  try {
    let last = afterSeq;
    for (const event of await store.listEvents(executionId, afterSeq)) {
      yield event;
      last = event.seq;
      if (isTerminalEvent(event)) return;
    }
    const row = await store.getExecution(executionId);
    if (!row || (isTerminal(row.status) && last >= row.lastSeq)) return;
    for (;;) {
      while (buffer.length > 0) {
        const event = buffer.shift()!;
        if (event.seq <= last) continue;
        const missed = event.seq > last + 1 ? await store.listEvents(executionId, last, event.seq - last - 1) : [];
        for (const e of [...missed, event]) {
          if (e.seq <= last) continue;
          yield e;
          last = e.seq;
          if (isTerminalEvent(e)) return;
        }
      }
      if (ended) return;
      let timer: NodeJS.Timeout | undefined;
      const woken = await new Promise<boolean>((resolve) => {
        wake = () => resolve(true);
        if (!store.exclusive) timer = setTimeout(() => resolve(false), IDLE_REFILL_MS);
      });
      clearTimeout(timer);
      wake = null;
      if (!woken) buffer.push(...(await store.listEvents(executionId, last)));
    }
  } finally {
    release?.();
    await iterator.return?.();
  }
}
