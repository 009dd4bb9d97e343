// Accessibility of every view in a real Chromium: axe-core finds no serious or critical violation,
// each Stop and Dismiss names what it acts on, focus follows route changes and disappearing
// controls. (Error toasts as alerts: client-liveness.test.ts; toasts pausing while hovered or focused: client-toasts-and-switching.test.ts.)
import { describe, expect, it } from 'vitest';
import { startSlowLlm, wordTokens, type SlowLlm } from '../fixtures/slow-llm.ts';
import { deferCleanup, siteForTest } from '../helpers/cleanup.ts';
import { START_CRAWL } from '../helpers/app.ts';
import { crawlToEnd } from '../helpers/knowledge.ts';
import { seriousViolations } from '../helpers/axe.ts';
import { hasChromium } from '../helpers/browser.ts';
import { browserSuite } from '../helpers/browser-suite.ts';

describe.skipIf(!hasChromium)('accessibility in a browser', () => {
  let llm: SlowLlm;
  const suite = browserSuite({
    app: async (resources) => {
      llm = await startSlowLlm({ tokens: wordTokens(30, ['Sluice gates [1] control the flow ']), delayMs: 50 });
      resources.defer(() => llm.close());
      return { llmBaseUrl: llm.url, llmModel: 'slow-test-model' };
    },
    pageTimeoutMs: 15_000,
  });

  async function slowCrawl(): Promise<string> {
    const site = await siteForTest({ pages: 200, delayMs: 1_000 });
    const title = `${site.url}/`;
    const started = await suite.server.gql<{ startCrawl: { id: string } }>(START_CRAWL, { input: { url: title, maxDepth: 4 } });
    const id = started.data!.startCrawl.id;
    deferCleanup(() => suite.server.gql('mutation($id: ID!) { cancelExecution(id: $id) { accepted } }', { id }));
    return title;
  }

  it('every view has no serious or critical axe violation, with live content on it', { timeout: 90_000 }, async () => {
    const small = await siteForTest({ pages: 3 });
    await crawlToEnd(suite.server, `${small.url}/`);
    const title = await slowCrawl();
    const page = await suite.newPage();
    const found: Record<string, string[]> = {};

    await page.goto(`${suite.server.url}/crawl`);
    await page.getByTestId('execution-card').filter({ hasText: title }).getByText('Running').waitFor();
    found.crawl = await seriousViolations(page);

    await page.getByRole('button', { name: '1 running' }).click();
    await page.getByRole('dialog', { name: 'Active executions' }).waitFor();
    found['running panel'] = await seriousViolations(page);
    await page.keyboard.press('Escape');

    await page.getByRole('link', { name: 'Executions' }).click();
    await page.getByTestId('history-row').first().waitFor();
    found.executions = await seriousViolations(page);

    await page.getByRole('link', { name: 'Knowledge' }).click();
    await page.getByRole('row').filter({ hasText: small.url }).waitFor();
    await page.getByLabel('Search the knowledge base').fill('page');
    await page.getByRole('button', { name: 'Search' }).click();
    await page.locator('[role="status"], [role="alert"]').filter({ hasText: /passage|No passage|failed/i }).first().waitFor();
    found.knowledge = await seriousViolations(page);

    await page.getByRole('link', { name: 'Chat' }).click();
    await page.getByLabel('Message').waitFor();
    // Every change of text inside a live region is something a screen reader may read out.
    await page.evaluate(`window.liveChanges = 0; new MutationObserver((records) => {
      if (records.some((r) => (r.target.nodeType === 3 ? r.target.parentElement : r.target)?.closest('[aria-live]'))) window.liveChanges += 1;
    }).observe(document.querySelector('main'), { subtree: true, childList: true, characterData: true })`);
    await page.getByLabel('Message').fill('What does a sluice gate control?');
    await page.getByRole('button', { name: 'Send' }).click();
    await page.getByTestId('chat-assistant').last().getByText('word29').waitFor();
    await page.getByTestId('chat-announcement').getByText(/^Answer: Sluice gates/).waitFor();
    // 31 tokens streamed; the live regions changed a handful of times (the answer once, statuses), not per token.
    expect(await page.evaluate('window.liveChanges')).toBeLessThan(8);
    found.chat = await seriousViolations(page);

    await page.goto(`${suite.server.url}/no-such-page`);
    await page.getByRole('heading', { name: 'Page not found' }).waitFor();
    found['not found'] = await seriousViolations(page);

    expect(found).toEqual({ crawl: [], 'running panel': [], executions: [], knowledge: [], chat: [], 'not found': [] });
  });

  it('each Stop names what it stops, and focus stays on the card when Stop turns into "Stopping…"', { timeout: 60_000 }, async () => {
    const [first, second] = [await slowCrawl(), await slowCrawl()];
    const page = await suite.newPage();
    await page.goto(`${suite.server.url}/executions`);
    const stopFirst = page.getByRole('button', { name: `Stop crawl of ${first}`, exact: true });
    await stopFirst.waitFor();
    await page.getByRole('button', { name: `Stop crawl of ${second}`, exact: true }).waitFor();

    await stopFirst.focus();
    await page.keyboard.press('Enter');
    const card = page.getByTestId('execution-card').filter({ hasText: first });
    await card.getByText('Cancelled').waitFor();
    expect(await page.evaluate(() => document.activeElement?.getAttribute('data-testid'))).toBe('execution-card');
    expect(await page.evaluate(() => document.activeElement?.textContent)).toContain(first);

    // Dismiss names its card too; once the card is gone, focus is on the section heading.
    const dismiss = card.getByRole('button', { name: `Dismiss ${first}`, exact: true });
    await dismiss.focus();
    await page.keyboard.press('Enter');
    await card.waitFor({ state: 'detached' });
    expect(await page.evaluate(() => document.activeElement?.textContent)).toBe('Active');
  });

  it('each Pause and Resume names what it acts on, and focus moves from the pressed one to the one that replaces it', { timeout: 60_000 }, async () => {
    const [first, second] = [await slowCrawl(), await slowCrawl()];
    const page = await suite.newPage();
    await page.goto(`${suite.server.url}/executions`);
    const pauseFirst = page.getByRole('button', { name: `Pause crawl of ${first}`, exact: true });
    await pauseFirst.waitFor();
    await page.getByRole('button', { name: `Pause crawl of ${second}`, exact: true }).waitFor();

    await pauseFirst.focus();
    await page.keyboard.press('Enter');
    const resumeFirst = page.getByRole('button', { name: `Resume crawl of ${first}`, exact: true });
    await resumeFirst.waitFor();
    // Pause went while the request was in flight (focus waited on the card), then Resume took it.
    await page.waitForFunction((name) => document.activeElement?.getAttribute('aria-label') === name, `Resume crawl of ${first}`);

    await page.keyboard.press('Enter');
    await pauseFirst.waitFor();
    await page.waitForFunction((name) => document.activeElement?.getAttribute('aria-label') === name, `Pause crawl of ${first}`);
    // The other card's buttons were not touched.
    expect(await page.getByRole('button', { name: `Resume crawl of ${second}`, exact: true }).count()).toBe(0);
  });

  it('a route change moves focus to the new heading', async () => {
    const page = await suite.newPage();
    await page.goto(`${suite.server.url}/crawl`);
    await page.getByRole('heading', { name: 'Crawl', level: 1 }).waitFor();
    await page.getByRole('link', { name: 'Knowledge' }).click();
    await page.getByRole('heading', { name: 'Knowledge', level: 1 }).waitFor();
    await page.waitForFunction(() => document.activeElement?.tagName === 'H1');
    expect(await page.evaluate(() => document.activeElement?.textContent)).toBe('Knowledge');
  });

  it('Stop all asks first, stops everything in one go, and Dismiss finished clears the ended cards', { timeout: 60_000 }, async () => {
    const [first, second] = [await slowCrawl(), await slowCrawl()];
    const page = await suite.newPage();
    await page.goto(`${suite.server.url}/executions`);
    await page.getByRole('button', { name: `Stop crawl of ${second}`, exact: true }).waitFor();
    const stopAll = page.getByRole('button', { name: /^Stop all \(\d+\)$/ });
    const running = Number((await stopAll.innerText()).replace(/\D/g, ''));

    page.once('dialog', (dialog) => void dialog.dismiss()); // "Cancel": nothing stops
    await stopAll.click();
    expect(await page.getByTestId('execution-card').filter({ hasText: 'Cancelled' }).count()).toBe(0);

    page.once('dialog', (dialog) => {
      expect(dialog.message()).toBe(`Stop all ${running} running executions? This cannot be undone.`);
      void dialog.accept();
    });
    await stopAll.click();
    await page.getByRole('region', { name: 'Notifications' }).getByText(`Stopped ${running} of ${running}`).waitFor();
    for (const title of [first, second]) await page.getByTestId('execution-card').filter({ hasText: title }).getByText('Cancelled').waitFor();

    await page.getByRole('button', { name: /^Dismiss finished/ }).click();
    await page.getByTestId('execution-card').first().waitFor({ state: 'detached' });
    expect(await page.evaluate(() => document.activeElement?.id)).toBe('active-title');
    await page.getByTestId('history-row').filter({ hasText: first }).waitFor();
  });
});
