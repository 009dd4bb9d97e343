// The execution page (/executions/:id) in a real Chromium against the real server and local sites:
// opened from a card, its live log and stored pages (paged), Stop, Run again, and axe.
import { describe, expect, it } from 'vitest';
import { deferCleanup, siteForTest } from '../helpers/cleanup.ts';
import { crawlToEnd } from '../helpers/knowledge.ts';
import { seriousViolations } from '../helpers/axe.ts';
import { hasChromium } from '../helpers/browser.ts';
import { browserSuite } from '../helpers/browser-suite.ts';

const CANCEL = 'mutation($id: ID!) { cancelExecution(id: $id) { accepted } }';

describe.skipIf(!hasChromium)('the execution page in a browser', () => {
  const suite = browserSuite({ pageTimeoutMs: 20_000 });


  const idFrom = (url: string): string => new URL(url).pathname.split('/').pop()!;

  /** Live jobProgress subscriptions on the server, from /metrics. */
  async function jobProgressStreams(): Promise<number> {
    const text = await (await fetch(`${suite.server.url}/metrics`)).text();
    const line = text.split('\n').find((l) => l.startsWith('sluice_subscriptions_live{field="jobProgress"}'));
    return line ? Number(line.split(' ').pop()) : 0;
  }

  it('opens one jobProgress subscription for the execution it shows, however many parts of the app show it', { timeout: 90_000 }, async () => {
    const site = await siteForTest({ pages: 200, delayMs: 300 });
    const start = await suite.server.gql<{ startCrawl: { id: string } }>(
      'mutation($input: StartCrawlInput!) { startCrawl(input: $input) { id } }',
      { input: { url: `${site.url}/`, maxDepth: 6 } },
    );
    const id = start.data!.startCrawl.id;
    deferCleanup(() => suite.server.gql(CANCEL, { id }));
    expect(await jobProgressStreams()).toBe(0);

    const page = await suite.newPage();
    await page.goto(`${suite.server.url}/executions/${id}`);
    const log = page.getByTestId('event-log').locator('li');
    // The whole log from seq 1, then live: pages keep coming in over the one subscription.
    await expect.poll(() => log.filter({ hasText: 'page' }).count(), { timeout: 20_000 }).toBeGreaterThan(2);
    expect(await log.first().innerText()).toMatch(/^1\b/);
    expect(await jobProgressStreams()).toBe(1);
    // The header's list shows its live progress too, from the same subscription.
    await page.getByRole('button', { name: '1 running' }).click();
    await page.getByRole('dialog', { name: 'Active executions' }).getByRole('link', { name: `${site.url}/` }).waitFor();
    const seen = await log.count();
    await expect.poll(() => log.count(), { timeout: 20_000 }).toBeGreaterThan(seen);
    expect(await jobProgressStreams()).toBe(1);

    await page.getByRole('button', { name: `Stop crawl of ${site.url}/` }).first().click();
    await expect.poll(() => page.getByTestId('execution-actions').innerText()).toContain('Cancelled');
    await expect.poll(() => jobProgressStreams()).toBe(0);
  });

  it('opens from a card, shows the live log, stops from the page, and Run again lands on a new page', { timeout: 90_000 }, async () => {
    const site = await siteForTest({ pages: 200, delayMs: 400 });
    const page = await suite.newPage();
    await page.goto(`${suite.server.url}/crawl`);
    await page.getByLabel('URL').fill(`${site.url}/`);
    await page.getByLabel('Depth').fill('6');
    await page.getByRole('button', { name: 'Start crawl' }).click();

    const card = page.getByTestId('execution-card').first();
    await card.getByTestId('execution-link').click();
    await page.waitForURL(/\/executions\/[^/]+$/);
    const id = idFrom(page.url());
    deferCleanup(() => suite.server.gql(CANCEL, { id }));
    await expect.poll(() => page.getByTestId('execution-title').innerText()).toBe(`Crawl of ${site.url}/`);
    // The route change moved focus to the heading.
    expect(await page.evaluate(() => document.activeElement?.tagName)).toBe('H1');
    await expect.poll(() => page.getByTestId('created-by').innerText()).toBe('local');
    // The log fills live: the first STATUS events, then pages as they are fetched.
    const log = page.getByTestId('event-log').locator('li');
    await expect.poll(() => log.filter({ hasText: 'page' }).count(), { timeout: 20_000 }).toBeGreaterThan(1);
    expect(await log.first().innerText()).toMatch(/^1\b/);

    await page.getByRole('button', { name: `Stop crawl of ${site.url}/` }).click();
    await expect.poll(() => page.getByTestId('stop-reason').innerText()).toBe('No reason given');
    await expect.poll(() => page.getByTestId('execution-actions').innerText()).toContain('Cancelled');
    await expect.poll(() => page.getByTestId('cancelled-by').innerText()).toBe('local');
    await expect.poll(() => log.last().innerText()).toContain('cancelled');
    expect(await page.getByRole('button', { name: `Stop crawl of ${site.url}/` }).count()).toBe(0);

    await page.getByRole('button', { name: `Run again: crawl of ${site.url}/` }).click();
    await page.waitForURL((url) => /\/executions\/[^/]+$/.test(url.pathname) && idFrom(url.href) !== id);
    const again = idFrom(page.url());
    deferCleanup(() => suite.server.gql(CANCEL, { id: again }));
    await expect.poll(() => page.getByTestId('execution-title').innerText()).toBe(`Crawl of ${site.url}/`);
    await expect.poll(() => log.filter({ hasText: 'page' }).count(), { timeout: 20_000 }).toBeGreaterThan(0);
    expect(await page.getByRole('button', { name: `Stop crawl of ${site.url}/` }).count()).toBe(1);
    const res = await suite.server.gql<{ execution: { id: string; kind: string; title: string; status: string } }>(
      'query($id: ID!) { execution(id: $id) { id kind title status } }',
      { id: again },
    );
    expect(res.data!.execution).toMatchObject({ kind: 'CRAWL', title: `${site.url}/`, status: 'RUNNING' });
    // The rerun is in the header's running menu, which links back to its page.
    await page.goto(`${suite.server.url}/crawl`);
    await page.getByRole('button', { name: '1 running' }).click();
    await page.getByRole('dialog', { name: 'Active executions' }).getByRole('link', { name: `${site.url}/` }).click();
    await page.waitForURL(`${suite.server.url}/executions/${again}`);
  });

  it('lists the pages it stored, "Load more pages" with the cursor, and has no serious axe violation', { timeout: 90_000 }, async () => {
    const small = await siteForTest({ pages: 30 });
    const id = await crawlToEnd(suite.server, `${small.url}/`, { maxPages: 30, maxDepth: 6 });
    const page = await suite.newPage();
    await page.goto(`${suite.server.url}/executions/${id}`);
    const rows = page.getByTestId('stored-pages').locator('tbody tr');
    await expect.poll(() => rows.count()).toBe(25);
    // From the keyboard: once the last page is in, the button goes and focus moves to the last page's link.
    await page.getByRole('button', { name: 'Load more pages' }).focus();
    await page.keyboard.press('Enter');
    await expect.poll(() => rows.count()).toBe(30);
    expect(await page.getByRole('button', { name: 'Load more pages' }).count()).toBe(0);
    await expect
      .poll(() => page.evaluate(() => document.activeElement === document.querySelector('[data-testid="stored-pages"] tbody tr:last-child a')))
      .toBe(true);
    await expect.poll(() => page.getByTestId('execution-actions').innerText()).toContain('Succeeded');
    expect(await page.getByTestId('event-log').locator('li').count()).toBeGreaterThan(30);
    expect(await seriousViolations(page)).toEqual([]);

    // The history links to it too.
    await page.goto(`${suite.server.url}/executions`);
    await page.getByTestId('history-row').getByRole('link', { name: `${small.url}/` }).click();
    await page.waitForURL(`${suite.server.url}/executions/${id}`);
    await expect.poll(() => rows.count()).toBe(25);

    await page.goto(`${suite.server.url}/executions/no-such-execution`);
    await expect.poll(() => page.getByRole('alert').innerText()).toContain('No execution has the id');
  });

  it('the toast of a crawl that ended links to its page: Open lands there, the heading focused', { timeout: 90_000 }, async () => {
    const small = await siteForTest({ pages: 3 });
    const page = await suite.newPage();
    await page.goto(`${suite.server.url}/crawl`);
    await page.getByLabel('URL').fill(`${small.url}/`);
    await page.getByRole('button', { name: 'Start crawl' }).click();
    // The crawl this tab started ends: a toast says so, with an Open link named after it.
    const toast = page.getByRole('region', { name: 'Notifications' }).locator('li').filter({ hasText: `${small.url}/` });
    await toast.locator('strong', { hasText: 'Crawl succeeded' }).waitFor();
    const open = toast.getByRole('link', { name: 'Open Crawl succeeded' });
    const href = await open.getAttribute('href');
    expect(href).toMatch(/^\/executions\/[^/]+$/);
    await open.click();
    await page.waitForURL(`${suite.server.url}${href}`);
    const id = idFrom(page.url());
    const res = await suite.server.gql<{ execution: { title: string; status: string } }>('query($id: ID!) { execution(id: $id) { title status } }', { id });
    expect(res.data!.execution).toEqual({ title: `${small.url}/`, status: 'SUCCEEDED' });
    await expect.poll(() => page.getByTestId('execution-title').innerText()).toBe(`Crawl of ${small.url}/`);
    await expect.poll(() => page.getByTestId('execution-actions').innerText()).toContain('Succeeded');
    expect(await page.evaluate(() => document.activeElement?.tagName)).toBe('H1');
  });
});
