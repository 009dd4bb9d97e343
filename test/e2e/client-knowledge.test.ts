// The Knowledge view in a real Chromium: a crawled source is listed and Delete removes it for good.
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFactSite } from '../fixtures/fact-site.ts';
import { deferCleanup, siteForTest } from '../helpers/cleanup.ts';
import { startTestApp, type TestApp } from '../helpers/app.ts';
import { crawlToEnd } from '../helpers/knowledge.ts';
import { DESKTOP, hasChromium, launchBrowser, shot } from './browser.ts';
import { ensureClientBuilt } from './build-client.ts';

describe.skipIf(!hasChromium)('the Knowledge view in a browser', () => {
  let server: TestApp;
  let browser: Browser;

  beforeAll(async () => {
    const clientDir = await ensureClientBuilt();
    [server, browser] = await Promise.all([startTestApp({ clientDir }), launchBrowser()]);
  }, 180_000);

  afterAll(async () => {
    await browser?.close();
    await server?.stop();
  });

  it('deletes a source: two presses, a toast, and the server no longer has it', { timeout: 60_000 }, async () => {
    const site = await siteForTest({ pages: 3 });
    await crawlToEnd(server, `${site.url}/`);
    const context = await browser.newContext(DESKTOP);
    const page = await context.newPage();
    page.setDefaultTimeout(10_000);
    await page.goto(`${server.url}/knowledge`);
    await page.getByRole('heading', { name: 'Knowledge', level: 1 }).waitFor();

    const row = page.getByRole('row').filter({ hasText: site.url });
    await row.getByRole('button', { name: `Delete ${site.url}` }).click();
    await row.getByRole('button', { name: `Confirm deleting ${site.url}` }).click();
    await page.getByText('Source deleted').waitFor();
    await row.waitFor({ state: 'detached' });
    expect(await page.getByText('Could not delete source').count()).toBe(0);
    await shot(page, 'knowledge-deleted');

    const left = await server.gql<{ knowledgeSources: { url: string }[] }>('{ knowledgeSources { url } }');
    expect(left.data?.knowledgeSources).toEqual([]);
    await context.close();
  });

  it('a search hit shows its heading and a plain-text snippet; a source links to its last crawl', { timeout: 60_000 }, async () => {
    const site = await startFactSite();
    deferCleanup(() => site.close());
    const crawlId = await crawlToEnd(server, site.url);
    const context = await browser.newContext(DESKTOP);
    deferCleanup(() => context.close());
    const page = await context.newPage();
    page.setDefaultTimeout(10_000);
    await page.goto(`${server.url}/knowledge`);
    await page.getByLabel('Search the knowledge base').fill('gateway port');
    await page.getByRole('button', { name: 'Search' }).click();
    const hit = page.locator('.hit').filter({ hasText: `${site.url}/gateway` }).first();
    await hit.waitFor();
    expect(await hit.getByTestId('hit-heading').innerText()).toContain('Listening port');
    const snippet = await hit.locator('.snippet').innerText();
    expect(snippet).toContain('7431');
    expect(snippet).not.toMatch(/[#*«»]|\]\(/);
    await hit.locator('.snippet mark').first().waitFor();

    const row = page.getByRole('row').filter({ hasText: site.url });
    await row.getByRole('link', { name: /^Last crawl of / }).click();
    await page.waitForURL(`**/executions/${crawlId}`);
  });
});
