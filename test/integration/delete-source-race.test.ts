import { describe, expect, it } from 'vitest';
import type { Store } from '../../server/store/store.ts';
import { appForTest, START_CRAWL, type TestApp } from '../helpers/app.ts';
import { appStores } from '../helpers/app-stores.ts';
import { siteForTest } from '../helpers/cleanup.ts';
import { crawlToEnd } from '../helpers/knowledge.ts';

const SOURCES = `{ knowledgeSources { id url pages } }`;
const DELETE = `mutation ($id: ID!) { deleteKnowledgeSource(id: $id) { deleted cancelledExecutions } }`;
const EXECUTION = `query ($id: ID!) { execution(id: $id) { status cancelReason progress { pagesFetched } } }`;

/** The store, whose knowledge.deleteSource runs `before` (once) ahead of the real delete. */
function beforeFirstDelete(store: Store, before: () => Promise<void>): Store {
  let ran = false;
  const knowledge = new Proxy(store.knowledge, {
    get(target, key, receiver) {
      if (key !== 'deleteSource') return Reflect.get(target, key, receiver);
      return async (id: string) => {
        if (!ran) {
          ran = true;
          await before();
        }
        return target.deleteSource(id);
      };
    },
  });
  return new Proxy(store, { get: (target, key, receiver) => (key === 'knowledge' ? knowledge : Reflect.get(target, key, receiver)) });
}

async function executionOf(t: TestApp, id: string): Promise<{ status: string; cancelReason: string | null; progress: { pagesFetched: number } }> {
  return (await t.gql(EXECUTION, { id })).data!.execution;
}

describe.each(appStores)('deleting a source while a crawl of its site starts ($name)', (store) => {
  it('cancels the crawl that started between the list of crawls and the delete: the site does not come back half stored', async () => {
    const site = await siteForTest({ pages: 20, delayMs: 60 });
    let t: TestApp | null = null;
    let racer = '';
    t = await appForTest({
      ...(await store.config()),
      // The interleaving, forced: deleteSource has listed the site's crawls (none), and before it
      // deletes, a second crawl of the site starts and is fetching pages (unchanged ones, so far).
      wrapStore: (s) =>
        beforeFirstDelete(s, async () => {
          const started = await t!.gql(START_CRAWL, { input: { url: site.url, maxDepth: 5, maxPages: 20 } });
          racer = started.data!.startCrawl.id;
          while ((await executionOf(t!, racer)).progress.pagesFetched < 2) await new Promise((r) => setTimeout(r, 10));
        }),
    });
    await crawlToEnd(t, site.url, { maxDepth: 5, maxPages: 20 });
    const source = ((await t.gql(SOURCES)).data!.knowledgeSources as { id: string; url: string }[]).find((s) => s.url === site.url)!;

    const result = await t.gql(DELETE, { id: source.id });
    expect(result.errors).toBeUndefined();
    expect(racer).not.toBe('');
    expect(result.data!.deleteKnowledgeSource).toEqual({ deleted: true, cancelledExecutions: 1 });

    let crawl = await executionOf(t, racer);
    while (crawl.status !== 'CANCELLED' && crawl.status !== 'SUCCEEDED' && crawl.status !== 'FAILED') {
      await new Promise((r) => setTimeout(r, 20));
      crawl = await executionOf(t, racer);
    }
    expect(crawl).toMatchObject({ status: 'CANCELLED', cancelReason: 'its knowledge source was deleted' });
    // Without the second look, the racing crawl ran on and stored the pages it fetched after the
    // delete: the site came back as a source holding part of itself.
    expect(((await t.gql(SOURCES)).data!.knowledgeSources as { url: string }[]).map((s) => s.url)).toEqual([]);
  });
});
