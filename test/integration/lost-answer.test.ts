// A store call can commit and still fail for its caller (the connection drops after COMMIT): the
// event it wrote is in the log, but nobody rang the doorbell for it. When that event is the last one
// (a terminal status), no later event reveals the gap, and every jobProgress subscriber used to stop
// one event short of the log's end, for good. Each test makes that happen on purpose.
import { describe, expect, it } from 'vitest';
import { defineJob } from '../../server/engine/job.ts';
import type { TransitionName } from '../../server/executions/status.ts';
import { StoreUnavailableError } from '../../server/executions/types.ts';
import type { Store } from '../../server/store/store.ts';
import { appStores } from '../helpers/app-stores.ts';
import { CANCEL, collect, JOB_PROGRESS, START_CRAWL, startTestApp, type EventPayload, type TestApp } from '../helpers/app.ts';
import { deferCleanup } from '../helpers/cleanup.ts';

/** `store` whose first transition named `name` commits, then throws as if its answer was lost. */
function loseAnswerOf(store: Store, name: TransitionName): { store: Store; lost: () => boolean } {
  let lost = false;
  const wrapped = new Proxy(store, {
    get(target, key, receiver) {
      if (key !== 'transition') return Reflect.get(target, key, receiver);
      return async (id: string, names: TransitionName | readonly TransitionName[], options?: object) => {
        const change = await target.transition(id, names, options);
        if (!lost && change && change.events.some((e) => e.type === 'STATUS') && change.execution.status === statusOf(name)) {
          lost = true;
          throw new StoreUnavailableError(new Error(`${name} committed, then its answer was lost (test)`));
        }
        return change;
      };
    },
  });
  return { store: wrapped, lost: () => lost };
}

const statusOf = (name: TransitionName) => ({ succeed: 'SUCCEEDED', cancelQueued: 'CANCELLED', finishCancel: 'CANCELLED' })[name as string];

/** A crawl job that waits for `gate`, then returns. */
function gatedJob(gate: Promise<void>) {
  return defineJob({
    kind: 'CRAWL',
    resumable: true,
    run: async (_input, ctx) => {
      await ctx.commit({ event: { type: 'LOG', message: 'waiting for the test' } });
      await gate;
      return { ok: true };
    },
  });
}

describe.each(appStores)('a terminal event whose answer was lost ($name)', ({ config }) => {
  async function app(name: TransitionName, gate: Promise<void>, extra: Record<string, unknown> = {}): Promise<{ t: TestApp; lost: () => boolean }> {
    let lost = () => false;
    const t = await startTestApp({
      ...(await config()),
      heartbeatMs: 50,
      ...extra,
      jobs: [gatedJob(gate)],
      wrapStore: (store) => {
        const w = loseAnswerOf(store, name);
        lost = w.lost;
        return w.store;
      },
    });
    deferCleanup(() => t.stop());
    return { t, lost: () => lost() };
  }

  it('SUCCEEDED committed, its answer lost: every jobProgress subscriber still gets it and completes', async () => {
    let open!: () => void;
    const gate = new Promise<void>((resolve) => (open = resolve));
    const { t, lost } = await app('succeed', gate);
    const started = await t.gql(START_CRAWL, { input: { url: 'http://127.0.0.1:9/' } });
    const id = started.data!.startCrawl.id as string;
    const fromStart = collect<EventPayload>(t.ws(), JOB_PROGRESS, { id }, 'jobProgress');
    await fromStart.until((e) => e.type === 'LOG');
    // a subscriber that joins at the live edge, in the same group as the first
    const atEdge = collect<EventPayload>(t.ws(), JOB_PROGRESS, { id, after: fromStart.items.at(-1)!.seq }, 'jobProgress');
    open();

    await fromStart.done;
    await atEdge.done;
    expect(lost()).toBe(true);
    const row = (await t.gql(`query ($id: ID!) { execution(id: $id) { status lastSeq } }`, { id })).data!.execution;
    expect(row.status).toBe('SUCCEEDED');
    expect(fromStart.items.at(-1)).toMatchObject({ seq: row.lastSeq, type: 'STATUS', status: 'SUCCEEDED' });
    expect(atEdge.items.at(-1)).toMatchObject({ seq: row.lastSeq, status: 'SUCCEEDED' });
  });

  it('CANCELLED of a queued execution committed, its answer lost: the caller sees the error, the subscriber still gets CANCELLED', async () => {
    const gate = new Promise<void>(() => {});
    // no worker slot: the crawl stays QUEUED
    const { t, lost } = await app('cancelQueued', gate, { maxConcurrent: 0 });
    const started = await t.gql(START_CRAWL, { input: { url: 'http://127.0.0.1:9/' } });
    const id = started.data!.startCrawl.id as string;
    const watcher = collect<EventPayload>(t.ws(), JOB_PROGRESS, { id }, 'jobProgress');
    await watcher.until((e) => e.status === 'QUEUED');

    const answer = await t.gql(CANCEL, { id, reason: 'lost answer' });
    expect(answer.errors).toBeDefined();
    expect(lost()).toBe(true);
    await watcher.done;
    expect(watcher.items.at(-1)).toMatchObject({ type: 'STATUS', status: 'CANCELLED' });
  });
});
