import { describe, expect, it } from 'vitest';
import type { Site } from '../fixtures/site.ts';
import { siteForTest } from '../helpers/cleanup.ts';
import { collect, JOB_PROGRESS, START_CRAWL, appForTest, type EventPayload, type TestApp } from '../helpers/app.ts';

let app: TestApp | undefined;
let site: Site | undefined;

describe('crawl through the API', () => {
  it('crawls a site to the exact page count, honouring robots.txt, redirects and retries', async () => {
    site = await siteForTest({
      pages: 13, // "/", 3 children, 9 grandchildren: all within maxDepth 2
      robotsTxt: 'User-agent: *\nDisallow: /page/12\n',
      homeLinks: ['/old-home', '/flaky', '/missing', '/image.png'],
      redirects: { '/old-home': '/page/1' },
      flaky: { '/flaky': 1 },
      routes: { '/flaky': { headers: { 'content-type': 'text/html' }, body: '<title>Flaky</title><main><p>It works the second time.</p></main>' } },
    });
    app = await appForTest();
    const started = await app.gql(START_CRAWL, { input: { url: site.url, maxDepth: 2, maxPages: 100 } });
    const id = started.data!.startCrawl.id;
    const changes = collect<{ id: string; status: string }>(app.ws(), `subscription { executionChanged { id status } }`, {}, 'executionChanged');
    const events = collect<EventPayload>(app.ws(), JOB_PROGRESS, { id }, 'jobProgress');
    await events.done;

    const last = events.items.at(-1)!;
    expect(last).toMatchObject({ type: 'STATUS', status: 'SUCCEEDED' });
    const pages = events.items.filter((e) => e.type === 'PAGE').map((e) => new URL(e.message!).pathname);
    // 12 generated pages (page 12 is disallowed) + /flaky; /old-home redirects to /page/1 (already seen).
    expect(new Set(pages).size).toBe(13);
    expect(pages).toContain('/flaky');
    expect(pages).not.toContain('/page/12');
    expect(site.requests).not.toContain('/page/12');
    expect(site.requests.filter((p) => p === '/flaky')).toHaveLength(2);
    expect(last.progress).toMatchObject({ percent: 100, stage: 'done', pagesFetched: 13 });
    expect(last.progress.pagesFailed + last.progress.pagesSkipped).toBeGreaterThanOrEqual(2); // /missing (404), /image.png
    expect(last.progress.chunksStored).toBeGreaterThan(13);
    // the chunks are split where the pages are written (the SQLite page writer thread) and counted there
    const sources = (await app.gql(`{ knowledgeSources { pages chunks } }`)).data!.knowledgeSources as { pages: number; chunks: number }[];
    expect(sources).toEqual([{ pages: 13, chunks: last.progress.chunksStored }]);
    const logs = events.items.filter((e) => e.type === 'LOG').map((e) => e.message ?? '');
    expect(logs.some((m) => m.includes('/missing') && m.includes('404'))).toBe(true);

    // Progress never goes down, seqs have no gaps.
    events.items.forEach((e, i) => {
      expect(e.seq).toBe(i + 1);
      if (i === 0) return;
      const prev = events.items[i - 1]!.progress;
      expect(e.progress.pagesFetched).toBeGreaterThanOrEqual(prev.pagesFetched);
      expect(e.progress.percent ?? 0).toBeGreaterThanOrEqual(prev.percent ?? 0);
    });

    await changes.until((e) => e.id === id && e.status === 'SUCCEEDED');
    // The subscription may start after RUNNING was published; what it saw must be in order and end once.
    expect(['RUNNING,SUCCEEDED', 'SUCCEEDED']).toContain(changes.items.filter((e) => e.id === id).map((e) => e.status).join());
    changes.close();
  });

  it('replays from afterSeq, then goes live without gap or duplicate', async () => {
    site = await siteForTest({ pages: 30, delayMs: 20 });
    app = await appForTest();
    const id = (await app.gql(START_CRAWL, { input: { url: site.url, maxDepth: 4, maxPages: 30 } })).data!.startCrawl.id;
    const first = collect<EventPayload>(app.ws(), JOB_PROGRESS, { id }, 'jobProgress');
    const seen = await first.until((e) => e.progress.pagesFetched >= 5);
    // A client that reconnects with the last seq it saw: replay, then live, across the seam.
    const resumed = collect<EventPayload>(app.ws(), JOB_PROGRESS, { id, after: seen.seq }, 'jobProgress');
    await Promise.all([first.done, resumed.done]);
    expect(resumed.items.map((e) => e.seq)).toEqual(first.items.filter((e) => e.seq > seen.seq).map((e) => e.seq));
    expect(resumed.items[0]!.seq).toBe(seen.seq + 1);
    expect(resumed.items.at(-1)!.status).toBe('SUCCEEDED');

    // After the end: a replay from any point completes; from the last seq it completes at once, empty.
    const lastSeq = first.items.at(-1)!.seq;
    const tail = collect<EventPayload>(app.ws(), JOB_PROGRESS, { id, after: lastSeq - 2 }, 'jobProgress');
    await tail.done;
    expect(tail.items.map((e) => e.seq)).toEqual([lastSeq - 1, lastSeq]);
    const nothing = collect<EventPayload>(app.ws(), JOB_PROGRESS, { id, after: lastSeq }, 'jobProgress');
    await nothing.done;
    expect(nothing.items).toEqual([]);
  });

  it('stores pages once: a second crawl of an unchanged site stores nothing new', async () => {
    site = await siteForTest({ pages: 4 });
    app = await appForTest();
    const run = async () => {
      const id = (await app!.gql(START_CRAWL, { input: { url: site!.url } })).data!.startCrawl.id;
      const events = collect<EventPayload>(app!.ws(), JOB_PROGRESS, { id }, 'jobProgress');
      await events.done;
      return events.items.at(-1)!;
    };
    const first = await run();
    const second = await run();
    expect(first.progress.pagesFetched).toBe(4);
    expect(second.progress.pagesFetched).toBe(4);
    expect(first.progress.chunksStored).toBeGreaterThan(0);
    expect(second.progress.chunksStored).toBe(0);
  });
});
