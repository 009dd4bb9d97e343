// executionPages (the pages a crawl stored, paged by cursor) and rerunExecution, through the API on both stores.
import { describe, expect, it } from 'vitest';
import { pagePath } from '../fixtures/site.ts';
import { collect, JOB_PROGRESS, START_CRAWL, startTestApp, type EventPayload, type TestApp, type TestAppOptions } from '../helpers/app.ts';
import { deferCleanup, siteForTest } from '../helpers/cleanup.ts';
import { appStores } from '../helpers/app-stores.ts';

const stores = appStores;

const PAGES = `query ($id: ID!, $after: String, $limit: Int) {
  executionPages(executionId: $id, after: $after, limit: $limit) { pages { url title chunks storedAt } nextCursor }
}`;
const RERUN = `mutation ($id: ID!) { rerunExecution(id: $id) { id kind status title priority createdBy } }`;

async function app(config: TestAppOptions): Promise<TestApp> {
  const started = await startTestApp(config);
  deferCleanup(() => started.stop({ remove: false }));
  return started;
}

/** Starts a crawl and waits for its terminal event; its id. */
async function crawled(t: TestApp, input: Record<string, unknown>): Promise<string> {
  const res = await t.gql(START_CRAWL, { input });
  expect(res.errors).toBeUndefined();
  const id = res.data!.startCrawl.id as string;
  await finished(t, id);
  return id;
}

async function finished(t: TestApp, id: string): Promise<EventPayload[]> {
  const watcher = collect<EventPayload>(t.ws(), JOB_PROGRESS, { id }, 'jobProgress');
  await watcher.done;
  return watcher.items;
}

async function errorCode(t: TestApp, query: string, variables: Record<string, unknown>): Promise<string | undefined> {
  const res = await t.gql(query, variables);
  return res.errors?.[0]?.extensions?.code;
}

describe.each(stores)('executionPages and rerunExecution ($name)', ({ config }) => {
  it('pages through every page a crawl stored with the cursor, each once, then null', async () => {
    const pages = 5;
    const s = await siteForTest({ pages });
    const t = await app(await config());
    const id = await crawled(t, { url: s.url, maxPages: pages, maxDepth: 5 });

    const seen: string[] = [];
    let after: string | null = null;
    let rounds = 0;
    do {
      const res = await t.gql(PAGES, { id, after, limit: 2 });
      expect(res.errors).toBeUndefined();
      const page = res.data!.executionPages as { pages: { url: string; title: string; chunks: number; storedAt: string }[]; nextCursor: string | null };
      expect(page.pages.length).toBeLessThanOrEqual(2);
      for (const p of page.pages) {
        expect(p.chunks).toBeGreaterThan(0);
        expect(Number.isNaN(Date.parse(p.storedAt))).toBe(false);
        seen.push(new URL(p.url).pathname);
      }
      after = page.nextCursor;
      rounds += 1;
    } while (after !== null);
    expect(rounds).toBe(3);
    expect(seen.sort()).toEqual(Array.from({ length: pages }, (_, i) => pagePath(i)).sort());

    const all = await t.gql(PAGES, { id });
    expect(all.data!.executionPages.pages).toHaveLength(pages);
    expect(all.data!.executionPages.nextCursor).toBeNull();
  });

  it('answers a bad cursor or limit with BAD_USER_INPUT and an unknown execution with NOT_FOUND', async () => {
    const s = await siteForTest({ pages: 2 });
    const t = await app(await config());
    const id = await crawled(t, { url: s.url, maxPages: 2, maxDepth: 2 });
    const first = await t.gql(PAGES, { id, limit: 1 });
    const cursor = first.data!.executionPages.nextCursor as string;
    expect(cursor).toEqual(expect.any(String));

    for (const after of ['garbage', '', 'p:1', Buffer.from('p:-1').toString('base64url'), Buffer.from('p:01').toString('base64url'), 'x'.repeat(500), `${cursor}\u0000`]) {
      expect(await errorCode(t, PAGES, { id, after }), after).toBe('BAD_USER_INPUT');
    }
    for (const limit of [0, -1, 201]) expect(await errorCode(t, PAGES, { id, limit })).toBe('BAD_USER_INPUT');
    expect(await errorCode(t, PAGES, { id: 'no-such-execution' })).toBe('NOT_FOUND');
    expect(await errorCode(t, PAGES, { id: 'no-such-execution', after: cursor })).toBe('NOT_FOUND');
    expect(await errorCode(t, RERUN, { id: 'no-such-execution' })).toBe('NOT_FOUND');
    expect(await errorCode(t, RERUN, { id: 'x'.repeat(500) })).toBe('BAD_USER_INPUT');
    // A cursor this server handed out still works.
    const next = await t.gql(PAGES, { id, after: cursor, limit: 1 });
    expect(next.errors).toBeUndefined();
    expect(next.data!.executionPages.pages).toHaveLength(1);
  });

  it('rerunExecution starts a new crawl of the same input; the pages it did not change stay with the crawl that stored them', async () => {
    const s = await siteForTest({ pages: 3 });
    const t = await app(await config());
    const start = await t.gql(START_CRAWL, { input: { url: s.url, maxPages: 3, maxDepth: 3, priority: 4 } });
    const id = start.data!.startCrawl.id as string;
    await finished(t, id);

    const rerun = await t.gql(RERUN, { id });
    expect(rerun.errors).toBeUndefined();
    const again = rerun.data!.rerunExecution as { id: string; kind: string; status: string; title: string; priority: number; createdBy: string | null };
    expect(again.id).not.toBe(id);
    expect(again).toMatchObject({ kind: 'CRAWL', title: start.data!.startCrawl.title, priority: 4, createdBy: 'local' });
    expect(['QUEUED', 'RUNNING']).toContain(again.status);
    const events = await finished(t, again.id);
    expect(events.at(-1)).toMatchObject({ type: 'STATUS', status: 'SUCCEEDED' });
    expect(events.at(-1)!.progress.pagesFetched).toBe(3);

    // Same content: nothing was stored again, so the pages stay with the crawl that stored them.
    const original = await t.gql(PAGES, { id });
    expect(original.data!.executionPages.pages).toHaveLength(3);
    const second = await t.gql(PAGES, { id: again.id });
    expect(second.data!.executionPages).toEqual({ pages: [], nextCursor: null });
  });
});
