// Many running executions on the Executions page, in a real Chromium: the Active cards are rendered
// virtually (few in the DOM, all reachable by scrolling), and only the cards mounted follow
// jobProgress, counted on the server. Executions here run until stopped (a job of the test's own).
import { describe, expect, it } from 'vitest';
import { defineJob } from '../../server/engine/job.ts';
import { deferCleanup } from '../helpers/cleanup.ts';
import { START_CRAWL } from '../helpers/app.ts';
import { seriousViolations } from '../helpers/axe.ts';
import { hasChromium } from '../helpers/browser.ts';
import { browserSuite } from '../helpers/browser-suite.ts';

/** Runs until stopped, saying so once in its log. */
const untilStopped = defineJob({
  kind: 'CRAWL',
  resumable: true,
  run: async (_input, ctx) => {
    await ctx.logEvent('holding until stopped');
    await new Promise((_resolve, reject) => ctx.signal.addEventListener('abort', () => reject(ctx.signal.reason), { once: true }));
  },
});

const MANY = 60;

describe.skipIf(!hasChromium)('many running executions in a browser', () => {
  const suite = browserSuite({ app: { jobs: [untilStopped], startRateLimitPerMinute: 0, maxConcurrent: MANY }, pageTimeoutMs: 20_000 });

  /** Live jobProgress subscriptions on the server, from /metrics. */
  async function jobProgressStreams(): Promise<number> {
    const text = await (await fetch(`${suite.server.url}/metrics`)).text();
    const line = text.split('\n').find((l) => l.startsWith('sluice_subscriptions_live{field="jobProgress"}'));
    return line ? Number(line.split(' ').pop()) : 0;
  }

  it('renders the Active cards virtually, and follows jobProgress for the mounted cards only', { timeout: 120_000 }, async () => {
    const base = 'http://127.0.0.1:9/active';
    for (let i = 0; i < MANY; i++) {
      const res = await suite.server.gql(START_CRAWL, { input: { url: `${base}/${i}` } });
      expect(res.errors).toBeUndefined();
    }
    deferCleanup(() => suite.server.gql('mutation { cancelExecutions(kind: CRAWL) { cancelled } }'));
    const running = `{ activeExecutions(kind: CRAWL) { status } }`;
    await expect
      .poll(async () => (await suite.server.gql<{ activeExecutions: { status: string }[] }>(running)).data!.activeExecutions.filter((e) => e.status === 'RUNNING').length, { timeout: 30_000 })
      .toBe(MANY);

    const page = await suite.newPage();
    await page.goto(`${suite.server.url}/executions`);
    const section = page.getByRole('region', { name: 'Active' });
    await expect.poll(() => section.locator('.count').innerText()).toBe(String(MANY));
    const cards = page.getByTestId('execution-card');
    await cards.first().waitFor();
    // Each card says where it stands in the whole list; only those near the viewport are mounted.
    expect(await cards.first().getAttribute('aria-setsize')).toBe(String(MANY));
    expect(await cards.first().getAttribute('aria-posinset')).toBe('1');
    const mounted = await cards.count();
    expect(mounted).toBeGreaterThan(0);
    expect(mounted).toBeLessThan(20);
    // One jobProgress stream per mounted card, not one per running execution.
    await expect.poll(() => jobProgressStreams()).toBe(mounted);

    // Scrolled to the end: the last card is mounted with its place, the first is not.
    await page.evaluate(() => window.scrollTo(0, document.documentElement.scrollHeight));
    const last = page.locator(`[data-testid="execution-card"][aria-posinset="${MANY}"]`);
    await last.waitFor();
    await expect.poll(() => page.locator('[data-testid="execution-card"][aria-posinset="1"]').count()).toBe(0);
    expect(await cards.count()).toBeLessThan(20);
    await expect.poll(() => jobProgressStreams()).toBe(await cards.count());
    expect(await seriousViolations(page)).toEqual([]);

    // A card far down the list works as any: its Stop stops that execution.
    const title = await last.getByTestId('execution-link').innerText();
    await last.getByRole('button', { name: `Stop crawl of ${title}` }).click();
    await last.getByText('Cancelled', { exact: true }).waitFor();
    const stopped = await suite.server.gql<{ executionHistory: { executions: { title: string }[] } }>(
      '{ executionHistory(status: [CANCELLED]) { executions { title } } }',
    );
    expect(stopped.data!.executionHistory.executions.map((e) => e.title)).toEqual([title]);

    // Leaving the page releases every stream.
    await page.getByRole('link', { name: 'Knowledge' }).click();
    await expect.poll(() => jobProgressStreams()).toBe(0);
  });
});
