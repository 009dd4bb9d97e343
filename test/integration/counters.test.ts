import { describe, expect, it } from 'vitest';
import type { Fence } from '../../server/executions/types.ts';
import type { Store, StoreWrite } from '../../server/store/store.ts';
import { appForTest, CANCEL, EXECUTION, START_CRAWL, type TestApp } from '../helpers/app.ts';
import { siteForTest } from '../helpers/cleanup.ts';
import { freshDatabase } from '../helpers/stores.ts';
import { deferCleanup } from '../helpers/cleanup.ts';

// What an execution reports equals what the store holds for it, after any stop. The race made on
// purpose: a cancel lands right after a page's write commits, before any later write of the crawl.

/** `store` whose `write` and `writeMany` (a group of pages) run `after` once a write that stored a page has committed. */
function afterPageWrite(store: Store, after: (fence: Fence) => Promise<void>): Store {
  return new Proxy(store, {
    get(target, key, receiver) {
      if (key === 'write') {
        return async (fence: Fence, write: StoreWrite) => {
          const result = await target.write(fence, write);
          if (result.pageStored) await after(fence);
          return result;
        };
      }
      if (key === 'writeMany') {
        return async (fence: Fence, writes: readonly StoreWrite[]) => {
          const result = await target.writeMany(fence, writes);
          if (result.pagesStored.includes(true)) await after(fence);
          return result;
        };
      }
      return Reflect.get(target, key, receiver);
    },
  });
}

describe.each(['sqlite', 'postgres'] as const)('counters after a stop (%s)', (dialect) => {
  it('a cancel right after a page is stored: chunksStored is the chunks the knowledge base holds for the crawl', async () => {
    const site = await siteForTest({ pages: 12, delayMs: 5 });
    let databaseUrl: string | null = null;
    if (dialect === 'postgres') {
      const db = await freshDatabase();
      deferCleanup(() => db.drop());
      databaseUrl = db.url;
    }
    let t: TestApp | null = null;
    let cancelled = false;
    const app = await appForTest({
      databaseUrl,
      wrapStore: (store) =>
        afterPageWrite(store, async ({ executionId }) => {
          if (cancelled) return;
          cancelled = true;
          // The tombstone is written before the crawl's next write: every later write is fenced.
          await t!.gql(CANCEL, { id: executionId, reason: 'right after a page' });
        }),
    });
    t = app;
    const started = await app.gql(START_CRAWL, { input: { url: site.url, maxPages: 12 } });
    const id = started.data!.startCrawl.id as string;
    let row: Record<string, any> = {};
    while (row.status !== 'CANCELLED') {
      row = (await app.gql(EXECUTION, { id })).data!.execution;
      if (row.status !== 'CANCELLED') await new Promise((resolve) => setTimeout(resolve, 10));
    }
    const sources = (await app.gql(`{ knowledgeSources { url pages chunks } }`)).data!.knowledgeSources as { url: string; pages: number; chunks: number }[];
    const source = sources.find((s) => s.url === site.url);

    expect(cancelled).toBe(true);
    expect(source?.chunks).toBeGreaterThan(0);
    expect(row.progress.chunksStored).toBe(source!.chunks);
  });
});
