// Two things a person does without thinking, in a real Chromium: reading a toast (it stays while
// the pointer is on it or focus is in it, then goes), and clicking one conversation, then another
// before the first has loaded (the second shows, and a question goes into it, whatever answers last).
import { describe, expect, it } from 'vitest';
import { collect, JOB_PROGRESS, type EventPayload } from '../helpers/app.ts';
import { siteForTest } from '../helpers/cleanup.ts';
import { hasChromium } from '../helpers/browser.ts';
import { browserSuite } from '../helpers/browser-suite.ts';

/** Toasts stay 4 s here (6 s by default): long enough to reach one on a loaded machine. */
const TOAST_MS = 4_000;
/** Held for longer than a toast's time: one that is not paused would be gone by then. */
const HOLD_MS = TOAST_MS + 2_000;
const SEND = `mutation ($input: SendChatMessageInput!) { sendChatMessage(input: $input) { id sessionId } }`;

describe.skipIf(!hasChromium)('toasts and switching conversations in a browser', () => {
  const suite = browserSuite({ pageTimeoutMs: 20_000 });

  it('a toast stays while hovered and while focus is in it, and goes once left', { timeout: 90_000 }, async () => {
    const context = await suite.newContext();
    await context.addInitScript((toastMs) => Object.assign(window, { sluiceSettings: { toastMs } }), TOAST_MS);
    const page = await context.newPage();
    page.setDefaultTimeout(20_000);
    const notifications = page.getByRole('region', { name: 'Notifications' });
    await page.goto(`${suite.server.url}/crawl`);

    async function crawlToToast(pages: number) {
      const site = await siteForTest({ pages });
      await page.getByLabel('URL').fill(`${site.url}/`);
      await page.getByRole('button', { name: 'Start crawl' }).click();
      const toast = notifications.locator('li').filter({ hasText: `${site.url}/` });
      await toast.locator('strong', { hasText: 'Crawl succeeded' }).waitFor();
      return toast;
    }

    const hovered = await crawlToToast(2);
    await hovered.hover();
    await page.waitForTimeout(HOLD_MS);
    expect(await hovered.count()).toBe(1);
    await page.mouse.move(5, 5);
    await hovered.waitFor({ state: 'detached' });

    const focused = await crawlToToast(3);
    await focused.getByRole('link', { name: 'Open Crawl succeeded' }).focus();
    await page.waitForTimeout(HOLD_MS);
    expect(await focused.count()).toBe(1);
    await page.getByLabel('URL').focus();
    await focused.waitFor({ state: 'detached' });
  });

  it('opening one conversation, then another before the first has loaded, shows and sends into the second', { timeout: 90_000 }, async () => {
    const ask = async (text: string, sessionId?: string) => {
      const sent = await suite.server.gql<{ sendChatMessage: { id: string; sessionId: string } }>(SEND, { input: { text, sessionId } });
      await collect<EventPayload>(suite.server.ws(), JOB_PROGRESS, { id: sent.data!.sendChatMessage.id, after: 0 }, 'jobProgress').done;
      return sent.data!.sendChatMessage.sessionId;
    };
    const first = await ask('First conversation, slow to load?');
    const second = await ask('Second conversation, opened last?');

    const page = await suite.newPage();
    // The first conversation's messages are held back until the second is on screen.
    let release!: () => void;
    const released = new Promise<void>((resolve) => (release = resolve));
    let held = false;
    await page.route('**/graphql', async (route) => {
      const body = route.request().postDataJSON() as { query?: string; variables?: { id?: string } } | null;
      if (body?.query?.includes('query ChatSession(') && body.variables?.id === first) {
        held = true;
        await released;
      }
      await route.continue();
    });
    await page.goto(`${suite.server.url}/chat`);
    const nav = page.getByRole('navigation', { name: 'Conversations' });
    await nav.getByRole('link', { name: 'First conversation, slow to load?' }).click();
    await expect.poll(() => held).toBe(true);
    await nav.getByRole('link', { name: 'Second conversation, opened last?' }).click();
    await page.getByTestId('chat-title').getByText('Second conversation, opened last?').waitFor();

    // The first one's answer arrives last: it changes nothing on screen.
    const late = page.waitForResponse((response) => {
      const body = response.request().postDataJSON() as { variables?: { id?: string } } | null;
      return body?.variables?.id === first;
    });
    release();
    await late;
    await page.evaluate(() => new Promise((resolve) => requestAnimationFrame(() => requestAnimationFrame(resolve))));
    expect(await page.getByTestId('chat-title').innerText()).toBe('Second conversation, opened last?');
    expect(page.url()).toBe(`${suite.server.url}/chat/${second}`);
    expect(await page.getByTestId('chat-assistant').count()).toBe(1);

    await page.getByLabel('Message').fill('Which one is this?');
    await page.getByRole('button', { name: 'Send' }).click();
    await page.getByTestId('chat-assistant').nth(1).waitFor();
    const messages = async (id: string) =>
      (await suite.server.gql<{ chatSession: { messages: { text: string }[] } }>('query ($id: ID!) { chatSession(id: $id) { messages { text } } }', { id }))
        .data!.chatSession.messages.map((m) => m.text);
    expect(await messages(second)).toContain('Which one is this?');
    expect(await messages(first)).not.toContain('Which one is this?');
  });
});
