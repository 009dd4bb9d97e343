// The Knowledge view in a real Chromium: a crawled source is listed and Delete removes it for good.
import { describe, expect, it } from 'vitest';
import { startFactSite } from '../fixtures/fact-site.ts';
import { deferCleanup, siteForTest } from '../helpers/cleanup.ts';
import { crawlToEnd } from '../helpers/knowledge.ts';
import { hasChromium, shot } from '../helpers/browser.ts';
import { browserSuite } from '../helpers/browser-suite.ts';

describe.skipIf(!hasChromium)('the Knowledge view in a browser', () => {
  const suite = browserSuite({ pageTimeoutMs: 10_000 });

  it('deletes a source: two presses, a toast, and the server no longer has it', { timeout: 60_000 }, async () => {
    const site = await siteForTest({ pages: 3 });
    await crawlToEnd(suite.server, `${site.url}/`);
    const page = await suite.newPage();
    await page.goto(`${suite.server.url}/knowledge`);
    await page.getByRole('heading', { name: 'Knowledge', level: 1 }).waitFor();

    const row = page.getByRole('row').filter({ hasText: site.url });
    await row.getByRole('button', { name: `Delete ${site.url}` }).click();
    await row.getByRole('button', { name: `Confirm deleting ${site.url}` }).click();
    await page.getByText('Source deleted').waitFor();
    await row.waitFor({ state: 'detached' });
    expect(await page.getByText('Could not delete source').count()).toBe(0);
    await shot(page, 'knowledge-deleted');

    const left = await suite.server.gql<{ knowledgeSources: { url: string }[] }>('{ knowledgeSources { url } }');
    expect(left.data?.knowledgeSources).toEqual([]);
  });

  it('a search hit shows its heading and a plain-text snippet; a source links to its last crawl', { timeout: 60_000 }, async () => {
    const site = await startFactSite();
    deferCleanup(() => site.close());
    const crawlId = await crawlToEnd(suite.server, site.url);
    const page = await suite.newPage();
    await page.goto(`${suite.server.url}/knowledge`);
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
