// The Chat view's list of conversations in a real Chromium, with more than one page of them:
// "Load more conversations" asks the server for the next page by its cursor (chatSessionHistory),
// says how many are not shown, and a conversation asked in again moves to the top, listed once.
import { describe, expect, it } from 'vitest';
import { collect, JOB_PROGRESS, type EventPayload } from '../helpers/app.ts';
import { seriousViolations } from '../helpers/axe.ts';
import { hasChromium } from '../helpers/browser.ts';
import { browserSuite } from '../helpers/browser-suite.ts';

const SEND = `mutation ($input: SendChatMessageInput!) { sendChatMessage(input: $input) { id } }`;
/** One more than the list shows at first (30), and then some. */
const CONVERSATIONS = 35;

describe.skipIf(!hasChromium)('the list of conversations in a browser', () => {
  const suite = browserSuite({ app: { startRateLimitPerMinute: 0 }, pageTimeoutMs: 20_000 });

  it('pages with "Load more conversations", opens one from the second page, and moves it up once asked in', { timeout: 120_000 }, async () => {
    // One at a time, each answer ended before the next question, so the order of activity is the order asked.
    for (let i = 0; i < CONVERSATIONS; i++) {
      const sent = await suite.server.gql<{ sendChatMessage: { id: string } }>(SEND, { input: { text: `Paging question ${i}?` } });
      await collect<EventPayload>(suite.server.ws(), JOB_PROGRESS, { id: sent.data!.sendChatMessage.id, after: 0 }, 'jobProgress').done;
    }

    const page = await suite.newPage();
    await page.goto(`${suite.server.url}/chat`);
    const nav = page.getByRole('navigation', { name: 'Conversations' });
    const links = nav.locator('a.session');
    await expect.poll(() => links.count()).toBe(30);
    expect(await links.first().innerText()).toBe(`Paging question ${CONVERSATIONS - 1}?`);
    expect(await nav.getByRole('link', { name: 'Paging question 0?', exact: true }).count()).toBe(0);

    // From the keyboard: once the last page is in, the button goes and focus moves to the last conversation.
    const more = nav.getByRole('button', { name: `Load more conversations (${CONVERSATIONS - 30} not shown)` });
    await more.focus();
    await page.keyboard.press('Enter');
    await expect.poll(() => links.count()).toBe(CONVERSATIONS);
    await more.waitFor({ state: 'detached' });
    expect(await nav.getByRole('button', { name: /Load more conversations/ }).count()).toBe(0);
    expect(await page.evaluate(() => document.activeElement?.textContent?.trim())).toBe('Paging question 0?');
    const titles = await links.allInnerTexts();
    expect(new Set(titles).size).toBe(CONVERSATIONS);
    expect(titles).toEqual(Array.from({ length: CONVERSATIONS }, (_, i) => `Paging question ${CONVERSATIONS - 1 - i}?`));
    expect(await seriousViolations(page)).toEqual([]);

    // The oldest, from the second page, opens; a question in it moves it to the top, still listed once.
    await nav.getByRole('link', { name: 'Paging question 0?', exact: true }).click();
    await page.getByTestId('chat-title').getByText('Paging question 0?').waitFor();
    await page.getByLabel('Message').fill('And once more?');
    await page.getByRole('button', { name: 'Send' }).click();
    await page.getByTestId('chat-assistant').nth(1).waitFor();
    await expect.poll(() => links.first().innerText()).toBe('Paging question 0?');
    expect(await links.count()).toBe(CONVERSATIONS);
    expect(await nav.getByRole('link', { name: 'Paging question 0?', exact: true }).count()).toBe(1);
    expect(await nav.getByRole('link', { name: 'Paging question 0?', exact: true }).getAttribute('aria-current')).toBe('page');
  });
});
