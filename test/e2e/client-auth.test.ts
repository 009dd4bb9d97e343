// The Vue client against a server with API tokens, in a real Chromium: the token dialog, a wrong
// token, the right one, Start and Stop with it (cancelledBy is the token's name), sign-out, and a
// read-only token that gets a FORBIDDEN toast naming the scope.
import type { Page } from 'playwright-core';
import { describe, expect, it } from 'vitest';
import type { Site } from '../fixtures/site.ts';
import { hasChromium, horizontalOverflow, PHONE, shot } from '../helpers/browser.ts';
import { seriousViolations } from '../helpers/axe.ts';
import { browserSuite } from '../helpers/browser-suite.ts';

const UI_TOKEN = 'ui-token-0123456789abcdef';
const VIEWER_TOKEN = 'viewer-token-0123456789ab';

/** Fills the token dialog and presses Continue. */
async function enterToken(page: Page, token: string): Promise<void> {
  const dialog = page.getByRole('dialog', { name: 'API token required' });
  await dialog.getByLabel('API token', { exact: true }).fill(token);
  await dialog.getByRole('button', { name: 'Continue' }).click();
}

describe.skipIf(!hasChromium)('Sluice in a browser, with API tokens', () => {
  let site: Site;
  const suite = browserSuite({
    app: async (resources) => {
      site = await resources.site({ pages: 300, delayMs: 1_500 });
      return {
        apiTokens: [
          { name: 'ui', token: UI_TOKEN, scopes: ['admin'] },
          { name: 'viewer', token: VIEWER_TOKEN, scopes: ['read'] },
        ],
      };
    },
  });

  it('asks for a token, refuses a wrong one, and with the right one Start and Stop work', { timeout: 90_000 }, async () => {
    const context = await suite.newContext();
    const page = await context.newPage();
    await page.goto(`${suite.server.url}/crawl`);

    // On load: the dialog, with the focus in its field.
    const dialog = page.getByRole('dialog', { name: 'API token required' });
    await dialog.waitFor();
    await page.getByLabel('API token', { exact: true }).waitFor();
    expect(await page.evaluate(() => document.activeElement?.id)).toBe('auth-token');
    expect(await page.getByLabel('API token', { exact: true }).getAttribute('type')).toBe('password');
    await shot(page, 'auth-dialog');
    expect(await seriousViolations(page)).toEqual([]);

    // Escape does not dismiss it, not even twice (Chromium closes a modal on a second Escape even
    // when its cancel is prevented): the app cannot work without a token.
    await page.keyboard.press('Escape');
    await page.keyboard.press('Escape');
    await page.keyboard.press('Escape');
    expect(await dialog.isVisible()).toBe(true);
    expect(await page.evaluate(() => document.querySelector('dialog')?.open)).toBe(true);

    // A wrong token: the server's reason, in the dialog.
    await enterToken(page, 'wrong-token-0123456789');
    await dialog.getByRole('alert').getByText('the token is not valid').waitFor();
    expect(await page.getByLabel('API token', { exact: true }).getAttribute('aria-invalid')).toBe('true');
    await shot(page, 'auth-dialog-refused');

    // The right one: the dialog goes and the view loads, without a page reload.
    await page.evaluate(() => ((window as unknown as { sameDocument: boolean }).sameDocument = true));
    await enterToken(page, UI_TOKEN);
    await dialog.waitFor({ state: 'hidden' });
    await page.getByText('No crawl is running. Start one with the form.').waitFor();
    await page.getByRole('button', { name: 'Sign out' }).waitFor();
    expect(await page.evaluate(() => (window as unknown as { sameDocument?: boolean }).sameDocument)).toBe(true);
    expect(await page.evaluate(() => sessionStorage.getItem('sluice.apiToken'))).toBe(UI_TOKEN);
    expect(await page.evaluate(() => localStorage.length)).toBe(0);

    // Start a crawl: it runs, and its live progress comes over the token's socket.
    await page.getByLabel('URL').fill(`${site.url}/`);
    await page.getByLabel('Depth').fill('8');
    await page.getByRole('button', { name: 'Start crawl' }).click();
    const card = page.getByTestId('execution-card').first();
    await card.getByText('Running').waitFor({ timeout: 15_000 });
    await page.getByRole('button', { name: '1 running' }).waitFor();
    await shot(page, 'auth-crawl-running');

    // The token is kept for the tab's session: a reload needs no dialog and follows the crawl.
    await page.reload();
    await card.getByRole('button', { name: 'Stop' }).waitFor();
    expect(await dialog.isVisible()).toBe(false);

    // Stop: Cancelled, and the server records who stopped it.
    await card.getByRole('button', { name: 'Stop' }).click();
    await card.getByText('Cancelled').waitFor({ timeout: 10_000 });
    const { data, errors } = await suite.server.gql('{ executions(kind: CRAWL, limit: 1) { id status createdBy cancelledBy } }', {}, {
      authorization: `Bearer ${UI_TOKEN}`,
    });
    expect(errors).toBeUndefined();
    expect(data!.executions[0]).toMatchObject({ status: 'CANCELLED', createdBy: 'ui', cancelledBy: 'ui' });

    // Sign out: the token is forgotten and the dialog is back.
    await page.getByRole('button', { name: 'Sign out' }).click();
    await dialog.waitFor();
    expect(await page.evaluate(() => sessionStorage.getItem('sluice.apiToken'))).toBeNull();
    expect(await page.getByRole('button', { name: 'Sign out' }).count()).toBe(0);
    await context.close();
  });

  it('a read-only token sees the app, and Start crawl shows a FORBIDDEN toast naming the scope', { timeout: 60_000 }, async () => {
    const context = await suite.newContext();
    const page = await context.newPage();
    await page.goto(`${suite.server.url}/crawl`);
    await enterToken(page, VIEWER_TOKEN);
    await page.getByRole('dialog', { name: 'API token required' }).waitFor({ state: 'hidden' });
    // It may read: the history shows the crawl the other token stopped.
    await page.getByTestId('history-row').first().getByText('Cancelled').waitFor();

    await page.getByLabel('URL').fill(`${site.url}/`);
    await page.getByRole('button', { name: 'Start crawl' }).click();
    const toast = page.getByRole('region', { name: 'Notifications' }).getByRole('alert').filter({ hasText: 'lacks the "execute" scope' });
    await toast.waitFor();
    expect(await toast.innerText()).toContain('startCrawl');
    expect(await page.getByRole('button', { name: '0 running' }).count()).toBe(1);
    await page.waitForTimeout(400); // let the toast finish sliding in
    await shot(page, 'auth-forbidden');
    await context.close();
  });

  it('the dialog fits a phone-sized screen', async () => {
    const phone = await suite.newContext(PHONE);
    const page = await phone.newPage();
    await page.goto(`${suite.server.url}/chat`);
    await page.getByRole('dialog', { name: 'API token required' }).getByRole('button', { name: 'Continue' }).waitFor();
    expect(await horizontalOverflow(page)).toBeLessThanOrEqual(0);
    await shot(page, 'auth-dialog-phone');
    await phone.close();
  });
});
