// Group commit of a crawl's pages, on both stores: a pause forced between the moment a group of built
// pages is handed to the store and its commit. The group is refused whole, and what the execution
// reports (counters, checkpoint) is what the store holds, before and after the resume.
import { describe, expect, it } from 'vitest';
import { FencedError, type Fence } from '../../server/executions/types.ts';
import type { Store, StoreWrite } from '../../server/store/store.ts';
import { START_CRAWL, startTestApp, type TestApp } from '../helpers/app.ts';
import { deferCleanup, siteForTest } from '../helpers/cleanup.ts';
import { appStores } from '../helpers/app-stores.ts';

const PAUSE = `mutation ($id: ID!) { pauseExecution(id: $id, reason: "forced") { status } }`;
const RESUME = `mutation ($id: ID!) { resumeExecution(id: $id) { status attempt } }`;
const CANCEL = `mutation ($id: ID!) { cancelExecution(id: $id) { accepted } }`;
const GET = `query ($id: ID!) { execution(id: $id) { status attempt progress { pagesFetched chunksStored } } }`;

/** `store` whose first `writeMany` of pages after `arm()` runs `before` and only then goes to the store. */
function holdGroup(store: Store, before: (fence: Fence) => Promise<void>) {
  let armed = false;
  const groups: number[] = [];
  const outcome: { refused: unknown } = { refused: null };
  let settle = (): void => {};
  /** Resolves once the held group's write has been answered by the store. */
  const settled = new Promise<void>((resolve) => (settle = resolve));
  const wrapped = new Proxy(store, {
    get(target, key, receiver) {
      if (key !== 'writeMany') return Reflect.get(target, key, receiver);
      return async (fence: Fence, writes: readonly StoreWrite[]) => {
        groups.push(writes.length);
        if (armed && writes.some((w) => w.page)) {
          armed = false;
          await before(fence);
          return target
            .writeMany(fence, writes)
            .catch((error: unknown) => {
              outcome.refused = error;
              throw error;
            })
            .finally(settle);
        }
        return target.writeMany(fence, writes);
      };
    },
  });
  return { store: wrapped, groups, outcome, settled, arm: () => (armed = true) };
}

/** What the store holds for the crawl, and what its row and checkpoint say about it. */
async function held(t: TestApp, store: Store, id: string) {
  const row = (await t.gql(GET, { id })).data!.execution;
  const stored = await store.knowledge.listExecutionPages(id, 0, 10_000);
  const checkpoint = await store.loadCheckpoint(id);
  const done = [...checkpoint].filter(([, v]) => (v as { s?: string }).s === 'done').map(([k]) => k).sort();
  return { row, storedUrls: stored.map((p) => p.url).sort(), chunks: stored.reduce((n, p) => n + p.chunks, 0), done, storedCount: (checkpoint.get('#stored') as number | undefined) ?? 0 };
}

async function waitFor(check: () => Promise<boolean>): Promise<void> {
  while (!(await check())) await new Promise((resolve) => setTimeout(resolve, 10));
}

describe.each(appStores)('page group commit ($name)', ({ config }) => {
  for (const stop of ['pause', 'cancel'] as const) {
    it(`a ${stop} between a group's hand-off and its commit: the group is refused whole; counters and checkpoint equal the store`, async () => {
      const pages = 40;
      const site = await siteForTest({ pages, delayMs: 2 });
      let t: TestApp | null = null;
      let inner: Store | null = null;
      let hold: ReturnType<typeof holdGroup> | null = null;
      const started = await startTestApp({
        ...(await config()),
        wrapStore: (store) => {
          inner = store;
          hold = holdGroup(store, async (fence) => {
            const res = await t!.gql(stop === 'pause' ? PAUSE : CANCEL, { id: fence.executionId });
            expect(res.errors).toBeUndefined();
          });
          return hold.store;
        },
      });
      t = started;
      deferCleanup(() => started.stop({ remove: false }));
      const res = await t.gql(START_CRAWL, { input: { url: site.url, maxPages: pages, maxDepth: 10, respectRobotsTxt: false } });
      const id = res.data!.startCrawl.id as string;
      // some pages committed first, then the next group is held while the crawl is stopped
      await waitFor(async () => (await t!.gql(GET, { id })).data!.execution.progress.pagesFetched >= 5);
      hold!.arm();
      const stopped = stop === 'pause' ? 'PAUSED' : 'CANCELLED';
      await waitFor(async () => (await t!.gql(GET, { id })).data!.execution.status === stopped);
      await site.waitFor(() => site.inFlight() === 0);

      await hold!.settled;
      expect(hold!.outcome.refused).toBeInstanceOf(FencedError);
      const after = await held(t, inner!, id);
      expect(after.storedUrls.length).toBeGreaterThan(0);
      expect(after.storedUrls.length).toBeLessThan(pages);
      expect(after.row.progress.pagesFetched).toBe(after.storedUrls.length);
      expect(after.row.progress.chunksStored).toBe(after.chunks);
      expect(after.done).toEqual(after.storedUrls);
      expect(after.storedCount).toBe(after.storedUrls.length);
      if (stop === 'cancel') return;

      expect((await t.gql(RESUME, { id })).data!.resumeExecution).toMatchObject({ status: 'QUEUED', attempt: 2 });
      await waitFor(async () => (await t!.gql(GET, { id })).data!.execution.status === 'SUCCEEDED');
      const end = await held(t, inner!, id);
      expect(end.row.progress.pagesFetched).toBe(pages);
      expect(end.storedUrls).toHaveLength(pages);
      expect(end.row.progress.chunksStored).toBe(end.chunks);
      expect(end.done).toEqual(end.storedUrls);
      expect(end.storedCount).toBe(pages);
    });
  }
});
