import { describe, expect, it } from 'vitest';
import { isAbortError } from '../../server/lib/abort.ts';
import { DEFAULT_CRAWL_LIMITS, parseCrawlInput } from '../../server/jobs/crawl/input.ts';
import { createPagePool, type PageProcessor } from '../../server/jobs/crawl/page-pool.ts';
import type { PageTask } from '../../server/jobs/crawl/page.ts';
import { deferCleanup, siteForTest } from '../helpers/cleanup.ts';
import { crawl, createTestContext } from '../helpers/crawl-test-context.ts';

const task = (html: string, url = 'https://example.com/a'): PageTask => ({
  body: Buffer.from(html),
  mimeType: 'text/html',
  charset: 'utf-8',
  url,
  key: url,
  sourceUrl: 'https://example.com',
});

describe('the page pool (worker threads)', () => {
  it('builds pages in worker threads as the main thread would', async () => {
    const pool = createPagePool(2, { inlineBelowBytes: 0 });
    deferCleanup(() => pool.close());
    const built = await Promise.all(
      [1, 2, 3, 4].map((i) => pool.build(task(`<title>T${i}</title><main><h1>Page ${i}</h1><p>Text ${i}.</p></main><a href="/b${i}">b</a>`), new AbortController().signal)),
    );
    expect(built.map((b) => b.page?.markdown)).toEqual([1, 2, 3, 4].map((i) => `# Page ${i}\n\nText ${i}.`));
    expect(built[0]).toMatchObject({ links: [{ href: 'https://example.com/b1', key: 'https://example.com/b1' }], page: { title: 'T1', chunks: [{ heading: 'Page 1', text: 'Text 1.' }] } });
  });

  it('starts its threads when warmed, before any page, and keeps them', async () => {
    const pool = createPagePool(2, { inlineBelowBytes: 0 });
    deferCleanup(() => pool.close());
    expect(pool.threads).toBe(0);
    pool.warm();
    expect(pool.threads).toBe(2);
    const built = await pool.build(task('<main><h1>Warm</h1><p>Built by a thread started ahead.</p></main>'), new AbortController().signal);
    expect(built.page?.markdown).toBe('# Warm\n\nBuilt by a thread started ahead.');
    expect(pool.threads).toBe(2);
  });

  it('a one-worker pool is not warmed: its thread starts for a page of 512 KiB or more', async () => {
    const pool = createPagePool(1);
    deferCleanup(() => pool.close());
    pool.warm();
    expect(pool.threads).toBe(0);
  });

  it('with one worker, builds pages under 512 KiB on the calling thread and larger ones in the worker', async () => {
    const pool = createPagePool(1);
    deferCleanup(() => pool.close());
    const small = pool.build(task('<main><p>small</p></main>'), new AbortController().signal);
    expect(pool.pending).toBe(0);
    const large = pool.build(task(`<main>${'<p>A paragraph of a large page.</p>'.repeat(16_000)}</main>`), new AbortController().signal);
    expect(pool.pending).toBe(1);
    expect((await small).page?.markdown).toBe('small');
    expect((await large).page?.chunks?.length).toBeGreaterThan(1);
  });

  it('with two or more workers, hands pages of 8 KiB or more to them', async () => {
    const pool = createPagePool(2);
    deferCleanup(() => pool.close());
    const small = pool.build(task('<main><p>small</p></main>'), new AbortController().signal);
    expect(pool.pending).toBe(0);
    const medium = pool.build(task(`<main>${'<p>A paragraph of a medium page.</p>'.repeat(400)}</main>`), new AbortController().signal);
    expect(pool.pending).toBe(1);
    expect((await small).page?.markdown).toBe('small');
    expect((await medium).page?.chunks?.length).toBeGreaterThan(1);
  });

  it('drops the work of a page cancelled while in the pool: nothing is written after the cancel, and the worker lives on', async () => {
    const site = await siteForTest({ pages: 10 });
    const pool = createPagePool(1, { inlineBelowBytes: 0 });
    deferCleanup(() => pool.close());
    const controller = new AbortController();
    const submitted: string[] = [];
    let commitsAtCancel = -1;
    // the real pool; the crawl is cancelled right after its second page has been handed to a worker
    const pages: PageProcessor = {
      build: (t, signal) => {
        const running = pool.build(t, signal);
        submitted.push(t.key);
        if (submitted.length === 2) {
          commitsAtCancel = context.attempts.length;
          controller.abort();
        }
        return running;
      },
      get pending() {
        return pool.pending;
      },
      idle: () => pool.idle(),
      get threads() {
        return pool.threads;
      },
      warm: () => pool.warm(),
      close: () => pool.close(),
    };
    const input = parseCrawlInput({ url: `${site.url}/`, maxDepth: 5 }, { ...DEFAULT_CRAWL_LIMITS, concurrency: 1 });
    const context = createTestContext(input, { signal: controller.signal, processor: pages });
    await expect(crawl(context)).rejects.toSatisfy(isAbortError);
    await pool.idle(); // the worker has answered for the cancelled page

    const cancelledPage = submitted[1]!;
    expect(context.pages.has(cancelledPage)).toBe(false);
    // not even attempted (the store would refuse it): the answer was dropped before any write
    expect(context.attempts).toHaveLength(commitsAtCancel);
    expect(context.attempts.some((c) => c.event?.message?.includes(cancelledPage))).toBe(false);
    // the worker was not torn down: the pool still builds
    const after = await pool.build(task('<main><p>still here</p></main>'), new AbortController().signal);
    expect(after.page?.markdown).toBe('still here');
  });
});
