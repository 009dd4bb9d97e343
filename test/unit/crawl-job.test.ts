import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import { describe, expect, it } from 'vitest';
import { DEFAULT_CRAWL_LIMITS, parseCrawlInput, type CrawlLimits, type StartCrawlInputRaw } from '../../server/jobs/crawl/input.ts';
import { pagePath, type Site, type SiteOptions } from '../fixtures/site.ts';
import { siteForTest } from '../helpers/cleanup.ts';
import { crawl, createTestContext } from '../helpers/crawl-test-context.ts';
import { isAbortError } from '../../server/lib/abort.ts';
import { FencedError } from '../../server/executions/types.ts';
import { pollUntil } from '../helpers/poll.ts';
import { inlinePages, type PageProcessor } from '../../server/jobs/crawl/page-pool.ts';
import { withChunks } from '../../server/store/chunk.ts';

const FAST_RETRIES: CrawlLimits = { ...DEFAULT_CRAWL_LIMITS, retryBaseDelayMs: 5 };

describe('crawlJob against the fixture site', () => {
  const open = (options: SiteOptions): Promise<Site> => siteForTest(options);
  const inputFor = (s: Site, raw: Partial<StartCrawlInputRaw> = {}, limits: Partial<CrawlLimits> = {}) =>
    parseCrawlInput({ url: `${s.url}/`, maxDepth: 10, ...raw }, { ...FAST_RETRIES, ...limits });
  const pageRequests = (s: Site) => s.requests.filter((p) => p === '/' || p.startsWith('/page/'));
  const urlsOf = (s: Site, indexes: number[]) => indexes.map((i) => `${s.url}${pagePath(i)}`).sort();

  it('fetches every page of a 10-page site exactly once and stores it', async () => {
    const s = await open({ pages: 10 });
    const input = inputFor(s);
    const t = createTestContext(input);
    const result = await crawl(t);

    expect(result).toMatchObject({ pagesFetched: 10, pagesStored: 10, pagesFailed: 0, pagesSkipped: 0 });
    expect(result.chunksStored).toBeGreaterThanOrEqual(30);
    expect(result.bytesFetched).toBeGreaterThan(10 * 1000);
    expect([...t.pages.keys()].sort()).toEqual(urlsOf(s, [...Array(10).keys()]));
    expect(pageRequests(s).sort()).toEqual([...Array(10).keys()].map(pagePath).sort());
    expect(t.progress()).toMatchObject({ stage: 'done', percent: 100, pagesDiscovered: 10, pagesFetched: 10, chunksStored: result.chunksStored });

    const home = t.pages.get(`${s.url}/`);
    expect(home?.title).toBe('Page 0');
    expect(home?.sourceUrl).toBe(s.url);
    expect(home?.markdown).not.toMatch(/tracking|Fixture site footer/);
    expect(home?.chunks?.[0]?.heading).toBe('Page 0 > Section 1 of page 0');
    expect(t.commits.filter((c) => c.event?.type === 'PAGE')).toHaveLength(10);
  });

  it('leaves the chunks to the store when told to (chunkWhereStored), and counts the chunks the store reports', async () => {
    const s = await open({ pages: 10 });
    const t = createTestContext(inputFor(s));
    t.settings.chunkWhereStored = true;
    const handedWithChunks: boolean[] = [];
    // a store that splits each page where it writes it, and answers with the execution's chunks after the group
    t.caps.storePages = async (items) => {
      const stored: boolean[] = [];
      for (const { page, write, whenStored } of items) {
        handedWithChunks.push(page.chunks !== undefined);
        stored.push(await t.caps.storePage(withChunks(page), write, whenStored));
      }
      return { stored, chunksStored: t.progress().chunksStored };
    };
    const result = await crawl(t);
    expect(handedWithChunks).toHaveLength(10);
    expect(handedWithChunks.every((given) => !given)).toBe(true);
    const chunks = [...t.pages.values()].reduce((sum, page) => sum + page.chunks!.length, 0);
    expect(chunks).toBeGreaterThan(10);
    expect(result).toMatchObject({ pagesStored: 10, chunksStored: chunks });
    expect(t.progress().chunksStored).toBe(chunks);
  });

  it('counts an unchanged page as fetched but not stored', async () => {
    const s = await open({ pages: 4 });
    const first = createTestContext(inputFor(s));
    await crawl(first);
    const again = createTestContext(inputFor(s), { pages: first.pages });
    const result = await crawl(again);
    expect(result).toMatchObject({ pagesFetched: 4, pagesStored: 0, chunksStored: 0 });
  });

  it('checkpoints no stored page for an unchanged one, so an attempt resumed after it does not over-count', async () => {
    const s = await open({ pages: 4 });
    const first = createTestContext(inputFor(s));
    await crawl(first);
    // Stopped right after the first unchanged page's write: what a resumed attempt would read back.
    const stopper = new AbortController();
    const again = createTestContext(inputFor(s), {
      pages: first.pages,
      signal: stopper.signal,
      onCommit: (write) => {
        if (write.page) stopper.abort(new Error('stopped right after an unchanged page'));
      },
    });
    await crawl(again).catch(() => {});
    expect(again.commits.some((c) => c.page)).toBe(true);
    expect(again.checkpoint.get('#stored') ?? 0).toBe(0);
    expect(again.progress().chunksStored).toBe(0);
  });

  it('never requests what robots.txt disallows, and counts it skipped', async () => {
    const s = await open({ pages: 10, robotsTxt: 'User-agent: *\nDisallow: /page/2\n\nUser-agent: OtherBot\nDisallow: /\n' });
    const input = inputFor(s);
    const t = createTestContext(input);
    const result = await crawl(t);

    expect(s.requests).not.toContain('/page/2');
    // /page/2's children (7, 8, 9) are only linked from it
    expect(result).toMatchObject({ pagesFetched: 6, pagesSkipped: 1, pagesFailed: 0 });
    expect(t.logs).toContain(`skipped ${s.url}/page/2: disallowed by robots.txt`);
  });

  it('ignores robots.txt when asked to', async () => {
    const s = await open({ pages: 3, robotsTxt: 'User-agent: *\nDisallow: /\n' });
    const t = createTestContext(inputFor(s, { respectRobotsTxt: false }));
    expect(await crawl(t)).toMatchObject({ pagesFetched: 3 });
    expect(s.requests).not.toContain('/robots.txt');
  });

  it('follows redirects within scope, and not out of it', async () => {
    const s = await open({
      pages: 4,
      homeLinks: ['/moved', '/dup', '/away'],
      redirects: { '/moved': '/landing/', '/dup': '/page/1', '/away': 'https://elsewhere.invalid/' },
      routes: { '/landing/': { headers: { 'content-type': 'text/html' }, body: '<title>Landing</title><p>You landed.</p>' } },
    });
    const input = inputFor(s);
    const t = createTestContext(input);
    const result = await crawl(t);

    expect(t.pages.get(`${s.url}/landing`)?.title).toBe('Landing');
    expect(s.requests.filter((p) => p === '/landing/')).toHaveLength(1);
    expect(s.requests.filter((p) => p === '/page/1')).toHaveLength(1);
    // 4 pages + /moved; /dup lands on a page the crawl has anyway, /away leaves the site
    expect(result).toMatchObject({ pagesFetched: 5, pagesStored: 5, pagesSkipped: 2, pagesFailed: 0 });
    expect(t.logs.some((l) => l.includes('/away') && l.includes('outside the crawl scope'))).toBe(true);
  });

  it('retries a page that answers 500 twice, then 200', async () => {
    const s = await open({ pages: 5, flaky: { '/page/3': 2 } });
    const t = createTestContext(inputFor(s));
    const result = await crawl(t);
    expect(result).toMatchObject({ pagesFetched: 5, pagesFailed: 0 });
    expect(s.requests.filter((p) => p === '/page/3')).toHaveLength(3);
  });

  it('counts failures, wrong content types and oversized pages, with a LOG for each', async () => {
    const s = await open({ pages: 2, homeLinks: ['/missing', '/image.png', '/big.html'], flaky: { '/page/1': 5 }, bigPageBytes: 200_000 });
    const t = createTestContext(inputFor(s, {}, { maxBodyBytes: 100_000 }));
    const result = await crawl(t);
    expect(result).toMatchObject({ pagesFetched: 1, pagesFailed: 2, pagesSkipped: 2 });
    expect(t.logs).toEqual(
      expect.arrayContaining([
        `failed ${s.url}/missing: HTTP 404`,
        `failed ${s.url}/page/1: HTTP 500`,
        `skipped ${s.url}/image.png: content type image/png is not a text page`,
        expect.stringMatching(/^skipped .*\/big\.html: too large/),
      ]),
    );
    expect(t.progress()).toMatchObject({ percent: 100, pagesDiscovered: 5 });
  });

  it('ends normally when the start page itself fails', async () => {
    const s = await open({ pages: 0 });
    const t = createTestContext(inputFor(s));
    expect(await crawl(t)).toMatchObject({ pagesFetched: 0, pagesFailed: 1 });
  });

  it('stops at maxPages and maxDepth, and says the budget stopped it with how many URLs were left', async () => {
    const s = await open({ pages: 40 });
    const byPages = createTestContext(inputFor(s, { maxPages: 5 }));
    const result = await crawl(byPages);
    expect(result).toMatchObject({ pagesFetched: 5, stoppedBy: 'maxPages' });
    expect(result.urlsLeft).toBeGreaterThan(0);
    expect(pageRequests(s)).toHaveLength(5);
    expect(byPages.progress()).toMatchObject({ percent: 100 });
    expect(byPages.progress().message).toBe(`crawl stopped at its budget of 5 pages with ${result.urlsLeft} URLs not fetched: 5 fetched (5 stored), 0 failed, 0 skipped`);
    expect(byPages.logs.at(-1)).toBe(byPages.progress().message);
    const byDepth = createTestContext(inputFor(s, { maxDepth: 1 }));
    expect(await crawl(byDepth)).toMatchObject({ pagesFetched: 4 });
  });

  it('spends no page budget on URLs that robots.txt forbids', async () => {
    // every page links to a forbidden URL: those are skipped unrequested and leave the budget to pages
    const s = await open({ pages: 60, robotsTxt: 'User-agent: *\nDisallow: /private/\n', pageLinks: (i) => [`/private/${i}`] });
    const t = createTestContext(inputFor(s, { maxPages: 60 }));
    const result = await crawl(t);
    expect(result).toMatchObject({ pagesFetched: 60, pagesStored: 60, pagesFailed: 0 });
    expect(pageRequests(s)).toHaveLength(60);
    expect(s.requests.filter((p) => p.startsWith('/private/'))).toEqual([]);
    expect(t.progress().message).toMatch(/^crawl stopped at its budget of 60 pages with \d+ URLs not fetched: 60 fetched/);
  });

  it('stores the same text under two URLs once, and a page under its rel=canonical URL', async () => {
    const copy = '<title>Copy</title><main><h1>Copy</h1><p>The very same text, served at two addresses.</p></main>';
    const html = { 'content-type': 'text/html; charset=utf-8' };
    const s = await open({
      pages: 2,
      homeLinks: ['/copy-a', '/copy-b', '/print'],
      routes: {
        '/copy-a': { headers: html, body: copy },
        '/copy-b': { headers: html, body: copy },
        '/print': { headers: html, body: '<link rel="canonical" href="/page/1"><main><p>Page 1, printable.</p></main>' },
      },
    });
    const t = createTestContext(inputFor(s));
    const result = await crawl(t);
    const copies = [...t.pages.keys()].filter((url) => url.includes('/copy-'));
    expect(copies).toHaveLength(1);
    expect(t.logs.some((l) => /^not stored .*\/copy-[ab]: the same text as .*\/copy-[ab], stored once$/.test(l))).toBe(true);
    expect(t.pages.has(`${s.url}/print`)).toBe(false);
    expect(t.pages.has(`${s.url}/page/1`)).toBe(true);
    expect(result).toMatchObject({ pagesFetched: 5, pagesStored: 3 });
  });

  it('takes seeds from the sitemap and llms.txt', async () => {
    const s = await open({ pages: 8, linksPerPage: 0, sitemap: ['/page/1', '/page/2'], llmsTxt: '# Site\n\n- [Five](/page/5): the fifth\n' });
    const t = createTestContext(inputFor(s, { maxDepth: 1 }));
    expect(await crawl(t)).toMatchObject({ pagesFetched: 4 });
    expect([...t.pages.keys()].sort()).toEqual(urlsOf(s, [0, 1, 2, 5]));
  });

  it('refuses a private start URL unless private networks are allowed, before any request', async () => {
    const s = await open({ pages: 1 });
    const t = createTestContext(inputFor(s), { allowPrivateNetworks: false });
    await expect(crawl(t)).rejects.toThrow(/loopback.*SLUICE_ALLOW_PRIVATE_NETWORKS=true/);
    expect(s.requestCount()).toBe(0);
  });

  it('stops within ~100 ms when cancelled with slow pages in flight, and sends nothing after', async () => {
    const s = await open({ pages: 10, delayMs: (path) => (path === '/' ? 0 : 30_000) });
    const controller = new AbortController();
    const t = createTestContext(inputFor(s), { signal: controller.signal });
    const running = crawl(t);
    const outcome = running.then(
      () => null,
      (error: unknown) => error,
    );
    await s.waitFor(() => s.inFlight() === 3);

    const requestsAtAbort = s.requestCount();
    const abortedAt = Date.now();
    controller.abort();
    const error = await outcome;
    expect(Date.now() - abortedAt).toBeLessThan(150);
    expect(isAbortError(error)).toBe(true);
    await s.waitFor(() => s.inFlight() === 0);
    expect(s.requestCount()).toBe(requestsAtAbort);
  });

  it('fetches on while page writes are unanswered, up to three times the concurrency of pages not yet stored; the counters land once they are answered', async () => {
    const s = await open({ pages: 10 });
    const t = createTestContext(inputFor(s, {}, { concurrency: 2 }));
    // every page write is held until the test answers it
    const held: (() => void)[] = [];
    const store = t.caps.storePage;
    t.caps.storePage = (page, write, whenStored) => new Promise<void>((resolve) => held.push(resolve)).then(() => store(page, write, whenStored));
    const running = crawl(t);
    // a page's slot is freed once it is fetched while at most twice the concurrency (4) of pages are
    // not yet stored; the two slots that fetched the fifth and sixth pages wait: six pages fetched
    // and not stored, each built and its write handed over, and nothing more is fetched
    expect(await pollUntil(() => [held.length, pageRequests(s).length], ([h, r]) => h === 6 && r === 6)).toEqual([6, 6]);
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(pageRequests(s)).toHaveLength(6);
    expect(held).toHaveLength(6);
    // with one answered five remain: still nothing; with two answered the waiting slots go on fetching
    held.shift()!();
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(pageRequests(s)).toHaveLength(6);
    held.shift()!();
    expect(await pollUntil(() => pageRequests(s).length, (r) => r === 8)).toBe(8);
    const release = setInterval(() => held.splice(0).forEach((answer) => answer()), 5);
    const result = await running.finally(() => clearInterval(release));
    expect(result).toMatchObject({ pagesFetched: 10, pagesStored: 10 });
    expect(result.chunksStored).toBe([...t.pages.values()].reduce((sum, page) => sum + page.chunks!.length, 0));
    expect(t.progress()).toMatchObject({ pagesFetched: 10, chunksStored: result.chunksStored });
    expect(pageRequests(s)).toHaveLength(10);
  });

  it('sends the next request before it builds the page just fetched, so the site answers it meanwhile', async () => {
    // the seeds come from the sitemap, one request at a time
    const s = await open({ pages: 6, sitemap: true });
    const order: string[] = [];
    const onRequest = (message: unknown) => {
      const { path } = (message as { request: { path: string } }).request;
      if (path.startsWith('/page/')) order.push(`request ${path}`);
    };
    const inline = inlinePages();
    const processor: PageProcessor = { ...inline, build: (task, signal) => (order.push(`build ${new URL(task.url).pathname}`), inline.build(task, signal)) };
    const t = createTestContext(inputFor(s, {}, { concurrency: 1 }), { processor });
    subscribe('undici:request:create', onRequest);
    try {
      expect(await crawl(t)).toMatchObject({ pagesFetched: 6, pagesStored: 6 });
    } finally {
      unsubscribe('undici:request:create', onRequest);
    }
    // each page but the last is built after the request for the next page went out (held, it would be built first)
    const requests = order.filter((entry) => entry.startsWith('request'));
    expect(requests).toHaveLength(5);
    for (const [i, request] of requests.entries()) {
      const path = request.slice('request '.length);
      if (i < requests.length - 1) expect(order.indexOf(`build ${path}`)).toBeGreaterThan(order.indexOf(requests[i + 1]!));
    }
  });

  it('a page write refused after its fetch slot was freed stops the crawl with that error, and no request starts after', async () => {
    const s = await open({ pages: 10, delayMs: (path) => (path === '/' || path === pagePath(1) ? 0 : 100) });
    const t = createTestContext(inputFor(s, {}, { concurrency: 2 }));
    const refusal = new FencedError(t.ctx.executionId);
    let refusedAt = -1;
    const store = t.caps.storePage;
    t.caps.storePage = async (page, write, whenStored) => {
      if (!page.url.endsWith(pagePath(1))) return store(page, write, whenStored);
      // answered once the crawl has gone on to fetch other pages
      await pollUntil(() => s.inFlight(), (n) => n > 0);
      refusedAt = s.requestCount();
      throw refusal;
    };
    await expect(crawl(t)).rejects.toBe(refusal);
    await s.waitFor(() => s.inFlight() === 0);
    expect(refusedAt).toBeGreaterThan(0);
    expect(s.requestCount()).toBe(refusedAt);
    expect(t.pages.has(`${s.url}${pagePath(1)}`)).toBe(false);
  });

  it.each([1, 2])('a cancel while pages are being built and their slots wait for fewer unstored pages ends the crawl cleanly, no unhandled rejection (concurrency %i)', async (concurrency) => {
    const s = await open({ pages: 10 });
    const controller = new AbortController();
    const held: (() => void)[] = [];
    const inline = inlinePages();
    let builds = 0;
    // with all writes held, twice the concurrency of pages are handed over; the builds after those last until the cancel, and reject with it
    const heldAt = 2 * concurrency;
    const processor: PageProcessor = {
      ...inline,
      build: (task, signal) =>
        ++builds > heldAt
          ? new Promise((_, reject) => signal.addEventListener('abort', () => reject(signal.reason), { once: true }))
          : inline.build(task, signal),
    };
    const t = createTestContext(inputFor(s, {}, { concurrency }), { signal: controller.signal, processor });
    const store = t.caps.storePage;
    t.caps.storePage = (page, write, whenStored) => new Promise<void>((resolve) => held.push(resolve)).then(() => store(page, write, whenStored));
    const unhandled: unknown[] = [];
    const onUnhandled = (reason: unknown) => unhandled.push(reason);
    process.on('unhandledRejection', onUnhandled);
    try {
      const running = crawl(t);
      const outcome = running.then(
        () => null,
        (error: unknown) => error,
      );
      // the writes held and one page in its build on each slot: over twice the concurrency unstored, so every slot waits
      await pollUntil(() => [held.length, builds], ([h, b]) => h === heldAt && b === heldAt + concurrency);
      await new Promise((resolve) => setTimeout(resolve, 20));
      controller.abort();
      await new Promise((resolve) => setTimeout(resolve, 20));
      held.splice(0).forEach((answer) => answer());
      expect(isAbortError(await outcome)).toBe(true);
      await new Promise((resolve) => setTimeout(resolve, 20));
    } finally {
      process.off('unhandledRejection', onUnhandled);
    }
    expect(unhandled).toEqual([]);
    expect(t.pages.size).toBe(0);
  });

  it('resumes from its checkpoint without fetching finished pages again', async () => {
    const s = await open({ pages: 10 });
    const input = inputFor(s, {}, { concurrency: 2 });
    const controller = new AbortController();
    const first = createTestContext(input, {
      signal: controller.signal,
      onCommit: (write) => {
        if (write.event?.type === 'PAGE' && first.pages.size === 4) controller.abort();
      },
    });
    await expect(crawl(first)).rejects.toSatisfy(isAbortError);
    const states = [...first.checkpoint].filter(([key]) => !key.startsWith('#')).map(([key, value]) => [key, (value as { s: string }).s]);
    const done = states.filter(([, state]) => state === 'done').map(([key]) => key);
    const queued = states.filter(([, state]) => state === 'q').map(([key]) => key);
    expect(done).toHaveLength(4);
    expect(queued.length).toBeGreaterThan(0);

    const requestsBefore = s.requestCount();
    const second = createTestContext(input, { checkpoint: first.checkpoint, initialProgress: first.progress(), pages: first.pages });
    const result = await crawl(second);

    const resumed = s.requests.slice(requestsBefore);
    expect(resumed).not.toContain('/sitemap.xml'); // discovery is not repeated
    const resumedPages = resumed.filter((p) => p === '/' || p.startsWith('/page/')).map((p) => `${s.url}${p}`);
    for (const url of queued) expect(resumedPages).toContain(url);
    for (const url of done) expect(resumedPages).not.toContain(url);
    expect(new Set(resumedPages).size).toBe(resumedPages.length);
    // at most the one other page in flight at the crash (concurrency 2) is fetched twice
    expect(pageRequests(s).length).toBeLessThanOrEqual(11);
    expect(first.pages.size).toBe(10);
    expect(result).toMatchObject({ pagesFetched: 10, pagesStored: 10 });
    expect(second.progress()).toMatchObject({ pagesFetched: 10, pagesDiscovered: 10, percent: 100, stage: 'done' });
  });

  it("counts the caller's time limit across attempts: a resumed crawl has only what its earlier attempts left", async () => {
    const s = await open({ pages: 10 });
    const input = inputFor(s, { timeLimitSeconds: 5 }, { concurrency: 1 });
    expect(input.limits.maxDurationMs).toBe(5000);
    const controller = new AbortController();
    const first = createTestContext(input, {
      signal: controller.signal,
      onCommit: (write) => {
        if (write.event?.type === 'PAGE' && first.pages.size === 3) controller.abort();
      },
    });
    await expect(crawl(first)).rejects.toSatisfy(isAbortError);
    const meta = first.checkpoint.get('#meta') as { spentMs: number };
    // every checkpoint carries the time spent so far
    expect(meta.spentMs).toBeGreaterThanOrEqual(0);
    expect(meta.spentMs).toBeLessThan(5000);

    // Earlier attempts used the whole limit: the next one ends at once, SUCCEEDED with what it has.
    const used = new Map(first.checkpoint).set('#meta', { ...meta, spentMs: 5000 });
    const requestsBefore = s.requestCount();
    const spent = createTestContext(input, { checkpoint: used, initialProgress: first.progress(), pages: first.pages });
    const result = await crawl(spent);
    expect(result).toMatchObject({ pagesFetched: first.progress().pagesFetched, stoppedBy: 'maxDuration' });
    expect(result.urlsLeft).toBeGreaterThan(0);
    expect(s.requestCount()).toBe(requestsBefore);
    expect(spent.logs.at(-1)).toMatch(/stopped at its time limit of 5 s/);

    // With time left, the same checkpoint runs to the end.
    const rest = createTestContext(input, { checkpoint: first.checkpoint, initialProgress: first.progress(), pages: new Map(first.pages) });
    expect(await crawl(rest)).toMatchObject({ pagesFetched: 10, stoppedBy: null });
  });

  it("refuses a time limit beyond the operator's cap", () => {
    expect(() => parseCrawlInput({ url: 'https://example.com/', timeLimitSeconds: 61 }, { ...DEFAULT_CRAWL_LIMITS, maxDurationMs: 60_000 })).toThrow(
      /timeLimitSeconds must be between 1 and 60/,
    );
    expect(() => parseCrawlInput({ url: 'https://example.com/', timeLimitSeconds: 0 })).toThrow(/timeLimitSeconds/);
  });
});
