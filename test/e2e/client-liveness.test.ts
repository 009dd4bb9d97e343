// The app in a real Chromium behind a proxy that misbehaves as networks do (test/fixtures/net-proxy.ts):
// a socket that goes silent, a reconnect waiting on its backoff when the network comes back or the tab is shown again, a close
// the client must not retry, a progress stream that fails, a connection slow to open, a Stop that hangs.
import type { BrowserContext, Page } from 'playwright-core';
import { describe, expect, it } from 'vitest';
import { startNetProxy, type NetProxy } from '../fixtures/net-proxy.ts';
import { deferCleanup, siteForTest } from '../helpers/cleanup.ts';
import { START_CRAWL } from '../helpers/app.ts';
import { hasChromium, shot } from '../helpers/browser.ts';
import { browserSuite } from '../helpers/browser-suite.ts';

/** Short timings so a dead socket or a hung Stop shows in a second (see client/lib/settings.ts). */
const SETTINGS = { keepAliveMs: 400, pongTimeoutMs: 600, stopTimeoutMs: 500 };

/** The number in the "Fetched" counter of the card of `title`. */
async function fetched(page: Page, title: string): Promise<number> {
  const text = await card(page, title).locator('dl div', { hasText: 'Fetched' }).locator('dd').innerText();
  return Number(text.replace(/[^\d]/g, ''));
}

function card(page: Page, title: string) {
  return page.getByTestId('execution-card').filter({ hasText: title });
}

/** Waits until the card's Fetched counter is above `value` (checked in the page on every change). */
async function fetchedAbove(page: Page, title: string, value: number, timeout = 20_000): Promise<void> {
  await page.waitForFunction(
    ([title, value]) => {
      const card = [...document.querySelectorAll('[data-testid="execution-card"]')].find((el) => el.textContent?.includes(title));
      const cell = [...(card?.querySelectorAll('dl div') ?? [])].find((div) => div.querySelector('dt')?.textContent === 'Fetched');
      return Number((cell?.querySelector('dd')?.textContent ?? '0').replace(/[^\d]/g, '')) > Number(value);
    },
    [title, value] as const,
    { timeout },
  );
}

describe.skipIf(!hasChromium)('a live connection in a browser, on a bad network', () => {
  const suite = browserSuite();

  /** A proxy, a browser context with the short timings, and a slow crawl started through the API. */
  async function setUp(): Promise<{ proxy: NetProxy; context: BrowserContext; page: Page; title: string; id: string }> {
    const site = await siteForTest({ pages: 300, delayMs: 800 });
    const proxy = await startNetProxy(suite.server.url);
    deferCleanup(() => proxy.close());
    const context = await suite.newContext();
    await context.addInitScript((settings) => Object.assign(window, { sluiceSettings: settings }), SETTINGS);
    const page = await context.newPage();
    page.setDefaultTimeout(15_000);
    const title = `${site.url}/`;
    const started = await suite.server.gql<{ startCrawl: { id: string } }>(START_CRAWL, { input: { url: title, maxDepth: 6, maxPages: 300 } });
    const id = started.data!.startCrawl.id;
    deferCleanup(() => suite.server.gql('mutation($id: ID!) { cancelExecution(id: $id) { accepted } }', { id }));
    return { proxy, context, page, title, id };
  }

  it('notices a socket that went silent, replaces it, and the card catches up', { timeout: 60_000 }, async () => {
    const { proxy, page, title } = await setUp();
    await page.goto(`${proxy.url}/executions`);
    await fetchedAbove(page, title, 1);

    proxy.freezeSockets(); // nothing passes, nothing closes
    const before = await fetched(page, title);
    // Only a new socket can bring progress now: the frozen one was closed by the missed pong.
    await fetchedAbove(page, title, before);
    expect(proxy.wsAttempts()).toBeGreaterThanOrEqual(2);
    await proxy.waitFor(() => proxy.openSockets() === 1);
    await shot(page, 'liveness-caught-up');
  });

  /**
   * Sockets refused until the reconnect waits on a long backoff, then accepted again: `comeBack` (what
   * the browser does when the network or the tab returns) must reconnect at once, not after the wait.
   */
  async function reconnectsAtOnce(before: (page: Page) => Promise<unknown>, comeBack: (page: Page) => Promise<unknown>): Promise<void> {
    const { proxy, page, title } = await setUp();
    await page.goto(`${proxy.url}/executions`);
    await fetchedAbove(page, title, 0);

    await before(page);
    proxy.refuseSockets();
    const attempts = proxy.wsAttempts();
    proxy.closeSockets(1012, 'service restart'); // retried by graphql-ws
    await page.getByRole('status').filter({ hasText: 'Reconnecting…' }).waitFor();
    // Six refusals in a row: the next try waits 7.5 to 15 s (client/graphql/client.ts, createBackoff).
    await proxy.waitFor(() => proxy.wsAttempts() >= attempts + 6);
    proxy.acceptSockets();
    await comeBack(page);
    await page.getByRole('status').filter({ hasText: 'Reconnecting…' }).waitFor({ state: 'detached', timeout: 3_000 });
    const now = await fetched(page, title);
    await fetchedAbove(page, title, now);
  }

  /** What the browser does when a tab is hidden (a laptop lid closed) or shown again. */
  const setVisibility = (state: 'hidden' | 'visible') => (page: Page) =>
    page.evaluate((state) => {
      Object.defineProperty(document, 'visibilityState', { configurable: true, get: () => state });
      Object.defineProperty(document, 'hidden', { configurable: true, get: () => state === 'hidden' });
      document.dispatchEvent(new Event('visibilitychange'));
    }, state);

  it('reconnects at once when the browser goes online, not after the backoff', { timeout: 60_000 }, () =>
    reconnectsAtOnce(
      async () => {},
      // What the browser does when the network comes back (Chromium's offline emulation holds new
      // sockets back for a moment after it, which would blur what this test looks at).
      (page) => page.evaluate(() => window.dispatchEvent(new Event('online'))),
    ));

  it('reconnects at once when the tab is shown again (after a sleep), not after the backoff', { timeout: 60_000 }, () =>
    reconnectsAtOnce(setVisibility('hidden'), setVisibility('visible')));

  it('a close the client must not retry says "Connection lost" and Reconnect brings it back', { timeout: 60_000 }, async () => {
    const { proxy, page, title } = await setUp();
    await page.goto(`${proxy.url}/executions`);
    await fetchedAbove(page, title, 0);

    proxy.closeSockets(4500, 'internal error');
    const alert = page.getByRole('alert').filter({ hasText: 'Connection lost' });
    await alert.waitFor();
    expect(await page.getByText('Reconnecting…').count()).toBe(0);
    await shot(page, 'liveness-connection-lost');
    await alert.getByRole('button', { name: 'Reconnect' }).click();
    await alert.waitFor({ state: 'detached' });
    const now = await fetched(page, title);
    await fetchedAbove(page, title, now);
  });

  it('a failed progress stream shows on its card, and Retry follows it again', { timeout: 60_000 }, async () => {
    const { proxy, page, title } = await setUp();
    await page.goto(`${proxy.url}/executions`);
    await fetchedAbove(page, title, 0);

    expect(proxy.failSubscriptions('jobProgress', 'the stream broke')).toBe(1);
    const problem = card(page, title).getByRole('alert');
    await problem.getByText('Live progress stopped: the stream broke').waitFor();
    await shot(page, 'liveness-stream-failed');
    await problem.getByRole('button', { name: `Follow ${title} again` }).click();
    await problem.waitFor({ state: 'detached' });
    const now = await fetched(page, title);
    await fetchedAbove(page, title, now);
  });

  it('lists work started while the socket was still opening', { timeout: 60_000 }, async () => {
    const site = await siteForTest({ pages: 200, delayMs: 1_000 });
    const proxy = await startNetProxy(suite.server.url);
    deferCleanup(() => proxy.close());
    const context = await suite.newContext();
    const page = await context.newPage();
    const held = proxy.holdSockets();
    await page.goto(`${proxy.url}/executions`);
    await proxy.waitFor(() => proxy.wsAttempts() >= 1);

    // Started before executionChanged can hear of it, and quiet afterwards (one slow page a second).
    const title = `${site.url}/`;
    const started = await suite.server.gql<{ startCrawl: { id: string } }>(START_CRAWL, { input: { url: title, maxDepth: 3 } });
    const id = started.data!.startCrawl.id;
    deferCleanup(() => suite.server.gql('mutation($id: ID!) { cancelExecution(id: $id) { accepted } }', { id }));
    await site.waitFor(() => site.requestCount() > 0);
    // The active list is not read before the socket that carries executionChanged is acknowledged.
    expect(proxy.httpOperations).not.toContain('ActiveExecutions');
    held.release();
    await card(page, title).waitFor({ timeout: 10_000 });
    expect(proxy.httpOperations).toContain('ActiveExecutions');
  });

  it('a Stop that hangs is sent again, then says so and gives the card back', { timeout: 60_000 }, async () => {
    const { proxy, page, title } = await setUp();
    await page.goto(`${proxy.url}/executions`);
    await fetchedAbove(page, title, 0);

    const hung = proxy.holdRequests('cancelExecution');
    await card(page, title).getByRole('button', { name: 'Stop' }).click();
    await card(page, title).getByText('Stopping…').waitFor();
    const toast = page.getByRole('alert').filter({ hasText: 'Could not stop' });
    await toast.getByText(/did not answer the Stop in 1 s/).waitFor();
    expect(hung.waiting()).toBe(2); // sent once more before giving up
    await card(page, title).getByRole('button', { name: 'Stop' }).waitFor(); // not stuck on "Stopping…"
    await shot(page, 'liveness-stop-hung');
    hung.release(); // the late answers are still the truth
    await card(page, title).getByText('Cancelled').waitFor();
  });

  it('subscribes to the progress of what is on screen only', { timeout: 60_000 }, async () => {
    const { proxy, page, title } = await setUp();
    const progressSubscriptions = () => proxy.clientMessages.filter((m) => m.type === 'subscribe' && m.query?.includes('jobProgress')).length;
    await page.goto(`${proxy.url}/knowledge`);
    await page.getByRole('heading', { name: 'Knowledge', level: 1 }).waitFor();
    await page.getByRole('button', { name: '1 running' }).waitFor();
    expect(progressSubscriptions()).toBe(0); // the crawl is known (header) but no card shows it

    await page.getByRole('link', { name: 'Executions' }).click();
    await fetchedAbove(page, title, 0);
    expect(progressSubscriptions()).toBe(1);
    const completes = proxy.clientMessages.filter((m) => m.type === 'complete').length;
    await page.getByRole('link', { name: 'Knowledge' }).click();
    await proxy.waitFor(() => proxy.clientMessages.filter((m) => m.type === 'complete').length > completes); // unsubscribed
  });
});
