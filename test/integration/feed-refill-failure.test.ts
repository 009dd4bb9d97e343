// A live event beyond the next seq (an event before it committed, its doorbell never rung or still
// on its way) makes a node's feed read the missing events from the log. When that read failed (the
// database away for a moment), the feed dropped the event that showed the gap and waited for the
// next one; when it was the last (a terminal status), every jobProgress subscriber of the node
// stopped one event short until the feed's idle re-read, 2 s after the last event it heard on
// PostgreSQL, and for good on SQLite (no idle re-read there). Each test makes the read fail on purpose.
import { describe, expect, it } from 'vitest';
import { defineJob } from '../../server/engine/job.ts';
import { StoreUnavailableError, type ExecutionWrite, type Fence } from '../../server/executions/types.ts';
import type { Store } from '../../server/store/store.ts';
import { appStores } from '../helpers/app-stores.ts';
import { collect, JOB_PROGRESS, START_CRAWL, startTestApp, type EventPayload } from '../helpers/app.ts';
import { deferCleanup } from '../helpers/cleanup.ts';

/** Written by the job, committed, and its answer lost: nobody publishes it. */
const UNHEARD = 'committed, its answer lost';

/**
 * `store` whose write of the UNHEARD event commits and then throws as if its answer was lost, and
 * whose next log read after `failNextRead()` fails before it runs.
 */
function faultyReads(store: Store) {
  let failNext = false;
  const failedAt: number[] = [];
  const wrapped = new Proxy(store, {
    get(target, key, receiver) {
      if (key === 'listEvents') {
        return async (...args: Parameters<Store['listEvents']>) => {
          if (failNext) {
            failNext = false;
            failedAt.push(performance.now());
            throw new StoreUnavailableError(new Error('a log read failed (test)'));
          }
          return target.listEvents(...args);
        };
      }
      if (key === 'write') {
        return async (fence: Fence, write: ExecutionWrite) => {
          const applied = await target.write(fence, write);
          if (write.event?.message === UNHEARD) throw new StoreUnavailableError(new Error(`${UNHEARD} (test)`));
          return applied;
        };
      }
      return Reflect.get(target, key, receiver);
    },
  });
  return { store: wrapped, failNextRead: () => void (failNext = true), failedAt };
}

/** A crawl job that waits for `gate`, then writes the UNHEARD event and returns. */
function gatedJob(gate: Promise<void>) {
  return defineJob({
    kind: 'CRAWL',
    resumable: true,
    run: async (_input, ctx) => {
      await ctx.commit({ event: { type: 'LOG', message: 'waiting for the test' } });
      await gate;
      // Its answer is lost, but it is in the log: the job has nothing left to write and ends well.
      await ctx.commit({ event: { type: 'LOG', message: UNHEARD } }).catch(() => {});
      return { ok: true };
    },
  });
}

describe.each(appStores)('a gap refill that fails ($name)', ({ config }) => {
  it('the terminal event that showed the gap still reaches every subscriber, soon after the failed read', async () => {
    let open!: () => void;
    const gate = new Promise<void>((resolve) => (open = resolve));
    let faults!: ReturnType<typeof faultyReads>;
    const t = await startTestApp({
      ...(await config()),
      jobs: [gatedJob(gate)],
      wrapStore: (store) => (faults = faultyReads(store)).store,
    });
    deferCleanup(() => t.stop());
    const started = await t.gql(START_CRAWL, { input: { url: 'http://127.0.0.1:9/' } });
    const id = started.data!.startCrawl.id as string;
    const fromStart = collect<EventPayload>(t.ws(), JOB_PROGRESS, { id }, 'jobProgress');
    await fromStart.until((e) => e.type === 'LOG');
    // a second subscriber of the same feed, joined at its live edge
    const atEdge = collect<EventPayload>(t.ws(), JOB_PROGRESS, { id, after: fromStart.items.at(-1)!.seq }, 'jobProgress');

    // SUCCEEDED (seq 5) arrives with seq 4 unheard; the feed's read of seq 4 fails.
    faults.failNextRead();
    open();
    // The idle re-read comes 2 s after the last event the feed heard (PostgreSQL), or never (SQLite).
    let timer: NodeJS.Timeout | undefined;
    const ended = await Promise.race([
      Promise.all([fromStart.done, atEdge.done]).then(() => 'completed'),
      new Promise((resolve) => (timer = setTimeout(() => resolve('stalled'), 1500))),
    ]);
    clearTimeout(timer);

    expect(faults.failedAt).toHaveLength(1);
    expect(ended).toBe('completed');
    const row = (await t.gql(`query ($id: ID!) { execution(id: $id) { status lastSeq } }`, { id })).data!.execution;
    expect(row).toEqual({ status: 'SUCCEEDED', lastSeq: 5 });
    expect(fromStart.items.map((e) => e.seq)).toEqual([1, 2, 3, 4, 5]);
    expect(fromStart.items[3]).toMatchObject({ type: 'LOG', message: UNHEARD });
    expect(atEdge.items.map((e) => e.seq)).toEqual([4, 5]);
    expect(atEdge.items.at(-1)).toMatchObject({ type: 'STATUS', status: 'SUCCEEDED' });
  });
});
