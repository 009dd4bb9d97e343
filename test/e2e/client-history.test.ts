// The history on the Executions page in a real Chromium against the real server: paged by the
// server's cursor ("Load more"), filtered by title text, counted by the server ("N matching"),
// and what ends while the page is open joins it. Crawls here end at once (a job of the test's own).
import { describe, expect, it } from 'vitest';
import { defineJob } from '../../server/engine/job.ts';
import { START_CRAWL } from '../helpers/app.ts';
import { seriousViolations } from '../helpers/axe.ts';
import { hasChromium } from '../helpers/browser.ts';
import { browserSuite } from '../helpers/browser-suite.ts';

const instant = defineJob({ kind: 'CRAWL', resumable: true, run: async () => {} });
const ENDED = `query ($text: String) {
  executionHistory(text: $text, status: [SUCCEEDED], limit: 1) { totalCount }
}`;

describe.skipIf(!hasChromium)('the history in a browser', () => {
  const suite = browserSuite({ app: { jobs: [instant], startRateLimitPerMinute: 0 }, pageTimeoutMs: 20_000 });


  async function start(url: string): Promise<void> {
    const res = await suite.server.gql(START_CRAWL, { input: { url } });
    expect(res.errors).toBeUndefined();
  }

  async function succeeded(text: string | null = null): Promise<number> {
    const res = await suite.server.gql<{ executionHistory: { totalCount: number } }>(ENDED, { text });
    return res.data!.executionHistory.totalCount;
  }

  it('pages with Load more, filters by text with the server\'s count, and adds what ends while open', { timeout: 120_000 }, async () => {
    const base = 'http://127.0.0.1:9';
    for (let i = 0; i < 45; i++) await start(`${base}/docs/${i}`);
    for (let i = 0; i < 15; i++) await start(`${base}/Blog/${i}`);
    await expect.poll(() => succeeded(), { timeout: 30_000 }).toBe(60);

    const page = await suite.newPage();
    await page.goto(`${suite.server.url}/executions`);
    const rows = page.getByTestId('history-row');
    const count = page.getByTestId('history-count');
    await expect.poll(() => count.innerText()).toBe('60 matching');
    const table = page.getByRole('table');
    await expect.poll(() => table.getAttribute('aria-rowcount')).toBe('51');
    // Newest first: the last blog crawl leads.
    expect(await rows.first().getByRole('link').innerText()).toBe(`${base}/Blog/14`);

    const more = page.getByRole('button', { name: 'Load more (10 not shown)' });
    await more.focus();
    await page.keyboard.press('Enter');
    await expect.poll(() => table.getAttribute('aria-rowcount')).toBe('61');
    expect(await page.getByRole('button', { name: /^Load more/ }).count()).toBe(0);
    // The button went with the last page: focus is on a row's link near it, not lost on the body.
    expect(await page.evaluate(() => document.activeElement?.closest('[data-testid="history-row"]') !== null)).toBe(true);
    await page.evaluate(() => window.scrollTo(0, document.documentElement.scrollHeight));
    await expect.poll(() => rows.last().getByRole('link').innerText()).toBe(`${base}/docs/0`);

    // The filter is the server's: ASCII letters in either case.
    await page.getByLabel('Filter by title').fill('bLOG');
    await expect.poll(() => count.innerText()).toBe('15 matching');
    await expect.poll(() => rows.count()).toBe(15);
    expect(await page.getByRole('button', { name: /^Load more/ }).count()).toBe(0);
    for (const title of await rows.getByRole('link').allInnerTexts()) expect(title).toContain('/Blog/');

    // A crawl that ends while the page is open joins the history: at once when the page first hears
    // of it ended, else after its card ("ended while watched") is dismissed.
    await start(`${base}/blog/new`);
    await expect.poll(() => succeeded('blog/new')).toBe(1);
    const dismiss = page.getByRole('button', { name: /^Dismiss finished/ });
    await expect.poll(async () => (await dismiss.count()) > 0 || (await count.innerText()) === '16 matching').toBe(true);
    if (await dismiss.count()) await dismiss.click();
    await expect.poll(() => count.innerText()).toBe('16 matching');
    expect(await rows.first().getByRole('link').innerText()).toBe(`${base}/blog/new`);
    // It does not match another filter.
    await page.getByLabel('Filter by title').fill('docs/4');
    await expect.poll(() => count.innerText()).toBe('6 matching');
    await expect.poll(() => rows.count()).toBe(6);
    expect(await seriousViolations(page)).toEqual([]);

    await page.getByLabel('Filter by title').fill('nothing like this');
    await expect.poll(() => count.innerText()).toBe('0 matching');
    await page.getByText('No finished executions match.').waitFor();
  });

  it('renders a long history virtually: few rows in the DOM, all of them reachable by scrolling', { timeout: 120_000 }, async () => {
    const base = 'http://127.0.0.1:9';
    const many = 340;
    for (let i = 0; i < many; i++) await start(`${base}/many/${i}`);
    await expect.poll(() => succeeded('/many/'), { timeout: 60_000 }).toBe(many);

    const page = await suite.newPage();
    await page.goto(`${suite.server.url}/executions`);
    await page.getByLabel('Filter by title').fill('/many/');
    const count = page.getByTestId('history-count');
    await expect.poll(() => count.innerText()).toBe(`${many} matching`);
    const more = page.getByRole('button', { name: /^Load more/ });
    while (await more.count()) {
      const before = await more.innerText();
      await more.click();
      await expect.poll(async () => (await more.count()) === 0 || (await more.innerText()) !== before).toBe(true);
    }
    // The table says how many rows it has; the DOM holds only those near the viewport.
    expect(await page.getByRole('table').getAttribute('aria-rowcount')).toBe(String(many + 1));
    const rows = page.getByTestId('history-row');
    expect(await rows.count()).toBeLessThan(60);
    // Back at the top: the newest row leads, as row 2 (the header is row 1).
    await page.evaluate(() => window.scrollTo(0, 0));
    await expect.poll(() => rows.first().getAttribute('aria-rowindex')).toBe('2');
    expect(await rows.first().getByRole('link').innerText()).toBe(`${base}/many/${many - 1}`);

    // Scrolled to the end: the oldest row is there (with its place in the table), the newest is not.
    await page.evaluate(() => window.scrollTo(0, document.documentElement.scrollHeight));
    const oldest = page.getByTestId('history-row').filter({ hasText: `${base}/many/0` });
    await expect.poll(() => oldest.count()).toBe(1);
    expect(await oldest.getAttribute('aria-rowindex')).toBe(String(many + 1));
    expect(await rows.filter({ hasText: `${base}/many/${many - 1}` }).count()).toBe(0);
    expect(await rows.count()).toBeLessThan(60);
    expect(await seriousViolations(page)).toEqual([]);
  });
});
