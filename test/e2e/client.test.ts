// The Vue client in a real Chromium against the real server and a slow local web site.
import type { BrowserContext, Page } from 'playwright-core';
import { beforeAll, describe, expect, it } from 'vitest';
import type { Site } from '../fixtures/site.ts';
import { startSlowLlm, wordTokens, type SlowLlm } from '../fixtures/slow-llm.ts';
import { DESKTOP, hasChromium, horizontalOverflow, PHONE, shot } from '../helpers/browser.ts';
import { browserSuite } from '../helpers/browser-suite.ts';

/** Every answer: a sentence citing [1], then word0 … word39, one token every 100 ms. */
const ANSWER = { tokens: wordTokens(40, ['Sluice gates [1] control the flow ']), delayMs: 100 };
const LAST_WORD = 'word39';

/** Number in the counter labelled `label` (e.g. "Fetched") of the first execution card. */
async function counter(page: Page, label: string): Promise<number> {
  const text = await page.getByTestId('execution-card').first().locator('dl div', { hasText: label }).locator('dd').innerText();
  return Number(text.replace(/[^\d]/g, ''));
}

/** Waits (polling in the page) until the counter of the first card exceeds `value`. */
async function waitCounterAbove(page: Page, label: string, value: number): Promise<void> {
  await page.waitForFunction(
    ([label, value]) => {
      const card = document.querySelector('[data-testid="execution-card"]');
      const cell = [...(card?.querySelectorAll('dl div') ?? [])].find((div) => div.querySelector('dt')?.textContent === label);
      return Number((cell?.querySelector('dd')?.textContent ?? '0').replace(/[^\d]/g, '')) > Number(value);
    },
    [label, value] as const,
    { timeout: 20_000 },
  );
}

/**
 * Records, inside the page, when a click on a "Stop" button happened and when "Stopping…" first
 * appeared, so "at once" can be measured even if the server's Cancelled follows a few ms later.
 */
async function watchForStopping(page: Page): Promise<void> {
  await page.evaluate(() => {
    const w = window as unknown as { stopClickAt?: number; stoppingAt?: number };
    document.addEventListener(
      'click',
      (event) => {
        if ((event.target as HTMLElement).closest('button')?.textContent?.trim() === 'Stop') w.stopClickAt = performance.now();
      },
      true,
    );
    new MutationObserver(() => {
      if (w.stoppingAt === undefined && document.body.innerText.includes('Stopping…')) w.stoppingAt = performance.now();
    }).observe(document.body, { subtree: true, childList: true, characterData: true });
  });
}

describe.skipIf(!hasChromium)('Sluice in a browser', () => {
  let site: Site;
  let fastSite: Site;
  let llm: SlowLlm;
  let context: BrowserContext;
  const suite = browserSuite({
    app: async (resources) => {
      llm = await startSlowLlm(ANSWER);
      resources.defer(() => llm.close());
      [site, fastSite] = await Promise.all([resources.site({ pages: 300, delayMs: 1_500 }), resources.site({ pages: 6 })]);
      return { llmBaseUrl: llm.url, llmModel: 'slow-test-model' };
    },
  });

  // One context for the file: the tests below follow each other in it.
  beforeAll(async () => {
    context = await suite.browser.newContext(DESKTOP);
    suite.resources.defer(() => context.close());
  });

  it('runs a crawl in the background, and Stop means stop in every tab and after a reload', { timeout: 90_000 }, async () => {
    const page = await context.newPage();
    await page.goto(`${suite.server.url}/crawl`);
    await page.getByRole('heading', { name: 'Crawl', level: 1 }).waitFor();

    // Deep and slow enough to be still running when Stop is pressed.
    await page.getByLabel('URL').fill(`${site.url}/`);
    await page.getByLabel('Depth').fill('8');
    await page.getByLabel('Page limit').fill('300');
    await page.getByRole('button', { name: 'Start crawl' }).click();

    const card = page.getByTestId('execution-card').first();
    await card.getByRole('button', { name: 'Stop' }).waitFor();
    await card.getByText('Running').waitFor({ timeout: 15_000 });
    await page.getByRole('button', { name: '1 running' }).waitFor();
    await waitCounterAbove(page, 'Fetched', 1);
    await shot(page, 'crawl-running');

    // Leave for Chat and come back: the crawl went on and the card still updates live.
    await page.getByRole('link', { name: 'Chat' }).click();
    await page.getByLabel('Message').waitFor();
    await page.getByRole('button', { name: '1 running' }).waitFor();
    await shot(page, 'chat-empty');
    await page.getByRole('link', { name: 'Crawl' }).click();
    await card.getByRole('button', { name: 'Stop' }).waitFor();
    const fetched = await counter(page, 'Fetched');
    await waitCounterAbove(page, 'Fetched', fetched);
    expect(await page.getByRole('progressbar').first().getAttribute('aria-label')).toMatch(/^Progress of /);

    // The header list of active executions.
    await page.getByRole('button', { name: '1 running' }).click();
    const panel = page.getByRole('dialog', { name: 'Active executions' });
    await panel.getByRole('button', { name: 'Stop' }).waitFor();
    await shot(page, 'running-menu');
    await page.keyboard.press('Escape');
    await panel.waitFor({ state: 'detached' });

    // A second tab follows the same execution.
    const second = await context.newPage();
    await second.goto(`${suite.server.url}/executions`);
    const secondCard = second.getByTestId('execution-card').first();
    await secondCard.getByRole('button', { name: 'Stop' }).waitFor();
    await shot(second, 'executions-running');

    // Stop in the first tab: "Stopping…" at once, then "Cancelled" in both tabs.
    await watchForStopping(page);
    await card.getByRole('button', { name: 'Stop' }).click();
    await card.getByText('Cancelled').waitFor({ timeout: 10_000 });
    const { stopClickAt, stoppingAt } = await page.evaluate(() => {
      const w = window as unknown as { stopClickAt?: number; stoppingAt?: number };
      return { stopClickAt: w.stopClickAt, stoppingAt: w.stoppingAt };
    });
    expect(stopClickAt).toBeDefined();
    expect(stoppingAt).toBeDefined();
    expect(stoppingAt! - stopClickAt!).toBeLessThan(100);
    await secondCard.getByText('Cancelled').waitFor({ timeout: 10_000 });
    await shot(second, 'executions-cancelled');
    await second.close();

    // The crawl really stopped; a reload shows no Stop and wakes nothing up.
    await page.getByRole('button', { name: '0 running' }).waitFor();
    await site.waitFor(() => site.inFlight() === 0);
    const requestsAfterStop = site.requestCount();
    await page.reload();
    await page.getByText('No crawl is running. Start one with the form.').waitFor();
    await page.getByTestId('history-row').first().getByText('Cancelled').waitFor();
    expect(await page.getByRole('button', { name: 'Stop' }).count()).toBe(0);
    await shot(page, 'crawl-after-reload');
    // A window for a resurrected execution to fetch; none may come.
    await page.getByRole('link', { name: 'Executions' }).click();
    await page.getByRole('heading', { name: 'History' }).waitFor();
    await page.getByTestId('history-row').first().waitFor();
    expect(site.requestCount()).toBe(requestsAfterStop);
    await page.close();
  });

  it('shows the Knowledge view with its sources and search', async () => {
    const page = await context.newPage();
    await page.goto(`${suite.server.url}/knowledge`);
    await page.getByRole('heading', { name: 'Knowledge', level: 1 }).waitFor();
    await page.getByRole('heading', { name: 'Sources' }).waitFor();
    await page.getByLabel('Search the knowledge base').fill('sluice gate');
    await page.getByRole('button', { name: 'Search' }).click();
    await page.locator('[role="status"], [role="alert"]').filter({ hasText: /passage|failed/i }).first().waitFor();
    await shot(page, 'knowledge');
    await page.close();
  });

  it('keyboard: the nav and the crawl form work without a mouse', async () => {
    const page = await context.newPage();
    await page.goto(`${suite.server.url}/executions`);
    await page.getByRole('heading', { name: 'Executions', level: 1 }).waitFor();
    await page.getByRole('link', { name: 'Crawl' }).focus();
    await page.keyboard.press('Enter');
    await page.getByRole('heading', { name: 'Crawl', level: 1 }).waitFor();
    await page.getByLabel('URL').focus();
    await page.keyboard.type('not a url');
    await page.keyboard.press('Enter');
    // The server refuses it (BAD_USER_INPUT) and the form says why, beside the field.
    await page.locator('#crawl-url-error').waitFor();
    expect(await page.getByLabel('URL').getAttribute('aria-invalid')).toBe('true');
    await shot(page, 'crawl-form-error');
    await page.close();
  });

  it('is usable on a phone-sized screen', async () => {
    const phone = await suite.newContext(PHONE);
    const page = await phone.newPage();
    await page.goto(`${suite.server.url}/crawl`);
    await page.getByLabel('URL').waitFor();
    await page.getByRole('link', { name: 'Executions' }).waitFor();
    await shot(page, 'phone-crawl');
    expect(await horizontalOverflow(page)).toBeLessThanOrEqual(0);
    await phone.close();
  });

  it('streams a chat answer, and Stop stops an answer being written', { timeout: 90_000 }, async () => {
    const page = await context.newPage();
    // Something in the knowledge base to answer from: a small crawl, started from the UI.
    await page.goto(`${suite.server.url}/crawl`);
    await page.getByLabel('URL').fill(`${fastSite.url}/`);
    await page.getByRole('button', { name: 'Start crawl' }).click();
    await page.getByTestId('execution-card').filter({ hasText: fastSite.url }).getByText('Succeeded').waitFor({ timeout: 20_000 });

    await page.getByRole('link', { name: 'Chat' }).click();
    await page.getByLabel('Message').fill('What does a sluice gate control?');
    await page.getByRole('button', { name: 'Send' }).click();
    const answer = page.getByTestId('chat-assistant').last();
    await answer.getByText('Sluice gates [1] control the flow').waitFor({ timeout: 15_000 });
    await answer.getByRole('button', { name: 'Stop' }).waitFor();
    await page.waitForFunction(() => (document.querySelector('[data-testid="chat-assistant"]:last-of-type')?.textContent ?? '').includes('word5'));
    await shot(page, 'chat-streaming');
    // Let this one finish: the whole answer, no Stop any more.
    await answer.getByText(LAST_WORD).waitFor({ timeout: 20_000 });
    await answer.getByRole('button', { name: 'Stop' }).waitFor({ state: 'detached' });

    // A second question; stop its answer half-way.
    await page.getByLabel('Message').fill('And what else?');
    await page.keyboard.press('Enter');
    const second = page.getByTestId('chat-assistant').nth(1);
    await second.getByText('word3').waitFor({ timeout: 15_000 });
    await second.getByRole('button', { name: 'Stop' }).click();
    await second.getByText('Cancelled').waitFor({ timeout: 10_000 });
    const stoppedText = await second.locator('.text').innerText();
    expect(stoppedText).not.toContain(LAST_WORD);
    await llm.waitFor(() => llm.openStreams() === 0);
    await shot(page, 'chat-stopped');

    // After a reload the stopped answer still says Cancelled (the status comes with the message),
    // keeps the text it had, and offers no Stop; the finished one shows no badge.
    await page.reload();
    const reloaded = page.getByTestId('chat-assistant').nth(1);
    await reloaded.getByText('Cancelled').waitFor();
    expect(await reloaded.locator('.text').innerText()).toBe(stoppedText);
    expect(await reloaded.getByRole('button', { name: 'Stop' }).count()).toBe(0);
    expect(await page.getByTestId('chat-assistant').first().getByText('Cancelled').count()).toBe(0);
    await shot(page, 'chat-stopped-after-reload');
    await page.close();
  });

  it('Pause and Resume beside Stop on the card and in the header menu: Paused at once, then the server\'s truth', { timeout: 90_000 }, async () => {
    const status = async (id: string) => (await suite.server.gql(`query ($id: ID!) { execution(id: $id) { status } }`, { id })).data!.execution.status as string;
    const page = await context.newPage();
    await page.goto(`${suite.server.url}/crawl`);
    await page.getByLabel('URL').fill(`${site.url}/page/2`);
    await page.getByLabel('Depth').fill('8');
    await page.getByRole('button', { name: 'Start crawl' }).click();
    const card = page.getByTestId('execution-card').filter({ hasText: `${site.url}/page/2` }).first();
    await card.getByText('Running').waitFor({ timeout: 15_000 });
    const active = (await suite.server.gql(`{ activeExecutions { id title } }`)).data!.activeExecutions as { id: string; title: string }[];
    const id = active.find((e) => e.title === `${site.url}/page/2`)!.id;

    // Pause on the card: "Paused" at once (before the server's answer could change the badge), then the truth.
    await page.evaluate(() => {
      const w = window as unknown as { pauseClickAt?: number; pausedAt?: number };
      document.addEventListener('click', (e) => {
        if ((e.target as HTMLElement).closest('button')?.textContent?.trim() === 'Pause') w.pauseClickAt = performance.now();
      }, true);
      new MutationObserver(() => {
        if (w.pauseClickAt !== undefined && w.pausedAt === undefined && document.body.innerText.includes('Paused')) w.pausedAt = performance.now();
      }).observe(document.body, { subtree: true, childList: true, characterData: true });
    });
    await card.getByRole('button', { name: 'Pause' }).click();
    await card.getByText('Paused').waitFor();
    await card.getByRole('button', { name: 'Resume' }).waitFor();
    await card.getByRole('button', { name: 'Stop' }).waitFor(); // a paused crawl can still be stopped
    expect(await status(id)).toBe('PAUSED');
    const timing = await page.evaluate(() => {
      const w = window as unknown as { pauseClickAt?: number; pausedAt?: number };
      return { clicked: w.pauseClickAt, paused: w.pausedAt };
    });
    expect(timing.clicked).toBeDefined();
    expect(timing.paused).toBeDefined();
    await shot(page, 'crawl-paused');

    // Resume from the header menu: the panel lists the paused crawl with Resume beside Stop.
    await page.locator('header button[aria-controls="running-panel"]').click();
    const panel = page.getByRole('dialog', { name: 'Active executions' });
    const row = panel.getByRole('listitem').filter({ hasText: `${site.url}/page/2` });
    await row.getByRole('button', { name: 'Resume' }).click();
    await row.getByRole('button', { name: 'Pause' }).waitFor();
    await page.keyboard.press('Escape');
    await card.getByText('Running').waitFor({ timeout: 15_000 });
    expect(await status(id)).toBe('RUNNING');
    await card.getByRole('button', { name: 'Stop' }).click();
    await card.getByText('Cancelled').waitFor({ timeout: 10_000 });
    await page.close();
  });

  it('selects several executions and pauses, then resumes them at once', { timeout: 60_000 }, async () => {
    const page = await context.newPage();
    await page.goto(`${suite.server.url}/crawl`);
    const urls = [`${site.url}/page/3`, `${site.url}/page/4`];
    for (const url of urls) {
      await page.getByLabel('URL').fill(url);
      await page.getByLabel('Depth').fill('8');
      await page.getByRole('button', { name: 'Start crawl' }).click();
      await page.getByTestId('execution-card').filter({ hasText: url }).first().waitFor();
    }
    await page.getByRole('link', { name: 'Executions' }).click();
    await page.getByRole('checkbox', { name: 'Select all' }).check();
    await page.getByRole('button', { name: /^Pause selected \(\d+\)/ }).click();
    for (const url of urls) await page.getByTestId('execution-card').filter({ hasText: url }).getByText('Paused').waitFor();
    const listed = async () =>
      ((await suite.server.gql(`{ activeExecutions { title status } }`)).data!.activeExecutions as { title: string; status: string }[]).filter((e) =>
        urls.includes(e.title),
      );
    expect((await listed()).map((e) => e.status)).toEqual(['PAUSED', 'PAUSED']);
    await shot(page, 'executions-paused');
    await page.getByRole('checkbox', { name: 'Select all' }).check();
    await page.getByRole('button', { name: /^Resume selected \(\d+\)/ }).click();
    for (const url of urls) await page.getByTestId('execution-card').filter({ hasText: url }).getByRole('button', { name: 'Pause' }).waitFor();
    expect((await listed()).every((e) => e.status === 'QUEUED' || e.status === 'RUNNING')).toBe(true);
    await page.getByRole('checkbox', { name: 'Select all' }).check();
    await page.getByRole('button', { name: /^Stop selected/ }).click();
    for (const url of urls) await page.getByTestId('execution-card').filter({ hasText: url }).getByText('Cancelled').waitFor({ timeout: 10_000 });
    await page.close();
  });

  it('selects several executions and stops them at once', { timeout: 60_000 }, async () => {
    const page = await context.newPage();
    await page.goto(`${suite.server.url}/crawl`);
    for (const path of ['/', '/page/1']) {
      await page.getByLabel('URL').fill(`${site.url}${path}`);
      await page.getByLabel('Depth').fill('8');
      await page.getByRole('button', { name: 'Start crawl' }).click();
      await page.getByTestId('execution-card').filter({ hasText: `${site.url}${path}` }).first().waitFor();
    }
    await page.getByRole('button', { name: '2 running' }).waitFor();
    await page.getByRole('link', { name: 'Executions' }).click();
    await page.getByRole('checkbox', { name: 'Select all' }).check();
    await page.getByRole('button', { name: 'Stop selected (2)' }).waitFor();
    await shot(page, 'executions-selected');
    await watchForStopping(page);
    await page.getByRole('button', { name: 'Stop selected (2)' }).click();
    await page.getByRole('button', { name: '0 running' }).waitFor({ timeout: 10_000 });
    await page.getByRole('region', { name: 'Notifications' }).getByText('Stopped 2 of 2').waitFor();
    const cards = page.getByTestId('execution-card').filter({ hasText: 'Cancelled' });
    await cards.nth(1).waitFor();
    expect(await page.evaluate(() => (window as unknown as { stoppingAt?: number }).stoppingAt)).toBeDefined();
    await page.close();
  });
});
