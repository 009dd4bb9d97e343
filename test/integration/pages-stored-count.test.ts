// The pages-stored count a crawl checkpoints (what a resumed attempt counts from) is what the store
// holds for the execution, even when a page is written while an earlier page's write is still in
// flight and that earlier page turns out unchanged (not stored). The count used to be computed by the
// crawl when it sent the write, counting the pending page as stored: one over. Now the store adds one
// to it in each stored page's transaction.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, expect, it } from 'vitest';
import { Engine } from '../../server/engine/engine.ts';
import type { Execution, Fence } from '../../server/executions/types.ts';
import { DEFAULT_CRAWL_LIMITS, parseCrawlInput } from '../../server/jobs/crawl/input.ts';
import { inlinePages, type PageProcessor } from '../../server/jobs/crawl/page-pool.ts';
import { defaultJobs } from '../../server/jobs/default-jobs.ts';
import type { Store, StoreWrite } from '../../server/store/store.ts';
import { deferCleanup, storeForTest } from '../helpers/cleanup.ts';
import { engineForTest } from '../helpers/engine.ts';
import { pollUntil } from '../helpers/poll.ts';
import { storeFixtures } from '../helpers/stores.ts';

/**
 * A two-page site, both listed in its sitemap (so the crawl fetches them side by side): / and /b,
 * whose text changes with `version`. While `gate` is set, /b is answered only once it resolves.
 */
async function twoPageSite(): Promise<{ url: string; version: number; gate: Promise<void> | null }> {
  const site: { url: string; version: number; gate: Promise<void> | null } = { url: '', version: 1, gate: null };
  const server = http.createServer((req, res) => {
    const send = (type: string, body: string) => res.writeHead(200, { 'content-type': type }).end(body);
    if (req.url === '/sitemap.xml') {
      const urls = ['/', '/b'].map((p) => `<url><loc>${site.url}${p.slice(1)}</loc></url>`).join('');
      return send('application/xml', `<?xml version="1.0"?><urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">${urls}</urlset>`);
    }
    if (req.url === '/') return send('text/html', '<html><body><h1>Home</h1><p>The start page.</p><a href="/b">b</a></body></html>');
    if (req.url === '/b') {
      void Promise.resolve(site.gate).then(() => send('text/html', `<html><body><h1>B</h1><p>Page b, version ${site.version}.</p></body></html>`));
      return;
    }
    res.writeHead(404).end();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  deferCleanup(() => new Promise((resolve) => server.close(resolve)));
  site.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
  return site;
}

/**
 * `store` whose first page write after `arm()` is held until `release()` (the writes the crawl makes
 * meanwhile are computed with that page's write in flight), and whose second runs `afterSecond` once
 * it has committed, before the crawl hears of it.
 */
function holdFirstPage(store: Store, afterSecond: (fence: Fence) => Promise<void>) {
  let armed = false;
  let pageWrites = 0;
  let release!: () => void;
  const released = new Promise<void>((resolve) => (release = resolve));
  let reached!: () => void;
  const held = new Promise<void>((resolve) => (reached = resolve));
  const wrapped = new Proxy(store, {
    get(target, key, receiver) {
      if (key !== 'writeMany') return Reflect.get(target, key, receiver);
      return async (fence: Fence, writes: readonly StoreWrite[]) => {
        if (!armed || !writes.some((w) => w.page)) return target.writeMany(fence, writes);
        pageWrites++;
        if (pageWrites === 1) {
          reached();
          await released;
          return target.writeMany(fence, writes);
        }
        const answer = await target.writeMany(fence, writes);
        if (pageWrites === 2) {
          armed = false;
          await afterSecond(fence);
        }
        return answer;
      };
    },
  });
  return { store: wrapped, held, release, arm: () => (armed = true) };
}

/** Builds pages on this thread; `next()` resolves once the page at `path` is next built and the crawl has made its write. */
function watchBuilds(path: string): { pages: PageProcessor; next(): Promise<void> } {
  const inner = inlinePages();
  let waiting: (() => void) | null = null;
  return {
    next: () => new Promise<void>((resolve) => (waiting = resolve)),
    pages: {
      ...inner,
      build: async (task, signal) => {
        const page = await inner.build(task, signal);
        // after the crawl's continuation (its write is made synchronously once the page is built)
        if (new URL(task.url).pathname === path && waiting) setImmediate(waiting);
        return page;
      },
    },
  };
}

describe.each(storeFixtures)('pages stored by a crawl ($name)', (fixture) => {
  it('two page writes in flight, the first unchanged: the checkpointed count is what the store holds', async () => {
    const base = await storeForTest(fixture);
    const site = await twoPageSite();
    const node: { engine: Engine | null } = { engine: null };
    // Paused once /b's write has committed: the resumed attempt counts from the checkpoint.
    const hold = holdFirstPage(base, async (fence) => void (await node.engine!.pause(fence.executionId, 'counted')));
    const watch = watchBuilds('/b');
    const engine = await engineForTest({
      store: hold.store,
      jobs: defaultJobs(hold.store, { allowPrivateNetworks: true, pages: watch.pages }),
      nodeId: 'node-a',
      maxConcurrent: 2,
      cancelGraceMs: 5000,
      leaseMs: 60_000,
      heartbeatMs: 1000,
      progressIntervalMs: 20,
    });
    node.engine = engine;
    const crawl = () =>
      engine.submit({
        kind: 'CRAWL',
        title: 'two pages',
        sessionId: null,
        input: parseCrawlInput({ url: site.url, maxPages: 10, maxDepth: 2, respectRobotsTxt: false }, DEFAULT_CRAWL_LIMITS),
        createdBy: null,
      });
    const ended = (id: string) => pollUntil(() => base.getExecution(id), (row) => row?.status === 'SUCCEEDED' || row?.status === 'FAILED') as Promise<Execution>;

    // The first crawl stores both pages.
    const first = await ended((await crawl()).id);
    expect(first.result).toMatchObject({ pagesStored: 2 });

    // The second: / is unchanged, /b changed. /'s write is held until /b's write has been made
    // (and /b is answered only once /'s write is held, so / is the first).
    site.version = 2;
    site.gate = hold.held;
    hold.arm();
    const bBuilt = watch.next();
    const second = await crawl();
    await hold.held;
    await bBuilt;
    hold.release();
    const paused = await pollUntil(() => base.getExecution(second.id), (r) => r?.status === 'PAUSED');
    expect(paused).toMatchObject({ status: 'PAUSED', attempt: 1 });
    await pollUntil(async () => engine.runningIds(), (ids) => ids.length === 0);
    await engine.resume(second.id);
    const row = await ended(second.id);

    const held = await base.knowledge.listExecutionPages(second.id, 0, 100);
    expect(held.map((p) => new URL(p.url).pathname)).toEqual(['/b']);
    expect(row).toMatchObject({ status: 'SUCCEEDED', attempt: 2 });
    // what the resumed attempt counted from: the pages the store holds for the execution, not one more
    expect(row.result).toMatchObject({ pagesStored: 1 });
    expect((await base.loadCheckpoint(second.id)).get('#stored')).toBe(1);
  });

  it('the store counts a stored page in the checkpoint, and not an unchanged one, in one group', async () => {
    const store = await storeForTest(fixture);
    const { execution } = await store.createExecution({ kind: 'CRAWL', title: 't', sessionId: null, input: {}, createdBy: null });
    const [claimed] = await store.claim('node-a', 1, 60_000);
    const fence = { executionId: execution.id, attempt: claimed!.execution.attempt };
    const page = (path: string, text: string) => ({
      sourceUrl: 'http://x.example',
      url: `http://x.example${path}`,
      title: path,
      contentHash: text,
      markdown: text,
      chunks: [{ heading: null, text }],
    });
    const write = (path: string, text: string): StoreWrite => ({
      event: { type: 'PAGE', message: path },
      page: page(path, text),
      whenStored: { chunksAdded: 1, countIn: '#stored' },
    });
    await store.writeMany(fence, [write('/a', 'one')]);
    expect((await store.loadCheckpoint(execution.id)).get('#stored')).toBe(1);
    // /a again unchanged (not counted), then /b new and /a changed (counted)
    const { pagesStored } = await store.writeMany(fence, [write('/a', 'one'), write('/b', 'two'), write('/a', 'three')]);
    expect(pagesStored).toEqual([false, true, true]);
    expect((await store.loadCheckpoint(execution.id)).get('#stored')).toBe(3);
  });
});
