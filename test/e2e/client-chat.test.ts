// The chat view in a real Chromium: Stop in the composer, rename and delete a conversation, answers
// rendered as sanitised Markdown, and no serious or critical axe violation.
import type { Page } from 'playwright-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { startFactSite } from '../fixtures/fact-site.ts';
import type { Site } from '../fixtures/site.ts';
import { startSlowLlm, wordTokens, type SlowLlm } from '../fixtures/slow-llm.ts';
import { crawlToEnd } from '../helpers/knowledge.ts';
import { seriousViolations } from '../helpers/axe.ts';
import { hasChromium } from '../helpers/browser.ts';
import { browserSuite } from '../helpers/browser-suite.ts';

const SLOW = { tokens: wordTokens(300, ['The gateway ', 'listens on ', 'port 7431 [1]. ']), delayMs: 60 };
const MARKDOWN = {
  tokens: [
    'See [the gateway guide](https://docs.example.test/gateway) [1].\n\n',
    '```\nsluice serve --port 7431\n```\n\n',
    '<script>window.__injected = true</script>',
    '<img src="x" onerror="window.__injected = true">\n',
  ],
  delayMs: 0,
};

describe.skipIf(!hasChromium)('the chat view in a browser', () => {
  let site: Site;
  let llm: SlowLlm;
  const suite = browserSuite({
    app: async (resources) => {
      llm = await startSlowLlm(SLOW);
      resources.defer(() => llm.close());
      site = await startFactSite();
      resources.defer(() => site.close());
      return { llmBaseUrl: llm.url, llmModel: 'slow-test-model' };
    },
    pageTimeoutMs: 15_000,
  });

  beforeAll(async () => {
    await crawlToEnd(suite.server, site.url);
  }, 180_000);

  async function ask(page: Page, question: string): Promise<void> {
    await page.getByLabel('Message').fill(question);
    await page.getByRole('button', { name: 'Send' }).click();
  }

  it('Stop in the composer stops the answer being written: Stopping… at once, then Cancelled', { timeout: 60_000 }, async () => {
    llm.script = SLOW;
    const page = await suite.newPage();
    await page.goto(`${suite.server.url}/chat`);
    await ask(page, 'Which port does the gateway listen on?');
    const answer = page.getByTestId('chat-assistant').last();
    await answer.getByText('word3').waitFor();
    const stop = page.getByTestId('composer-stop');
    await stop.waitFor();
    await stop.click();
    // Instant feedback, then the server's truth; the composer's Stop goes away.
    await answer.getByText(/Stopping…|Cancelled/).waitFor();
    await answer.getByText('Cancelled').waitFor();
    await stop.waitFor({ state: 'detached' });
    await llm.waitFor(() => llm.openStreams() === 0);
    expect(await answer.innerText()).not.toContain('word299');
  });

  it('renders an answer as Markdown: a link and a code block, the sources as links, no script run or shown', { timeout: 60_000 }, async () => {
    llm.script = MARKDOWN;
    const page = await suite.newPage();
    await page.goto(`${suite.server.url}/chat`);
    await ask(page, 'How do I start the gateway?');
    const answer = page.getByTestId('chat-assistant').last();
    const link = answer.getByRole('link', { name: 'the gateway guide' });
    await link.waitFor();
    expect(await link.getAttribute('href')).toBe('https://docs.example.test/gateway');
    expect(await link.getAttribute('rel')).toContain('noopener');
    expect(await answer.locator('pre code').innerText()).toContain('sluice serve --port 7431');
    // The sources the server appends are links to the crawled pages.
    await answer.locator(`a[href^="${site.url}/"]`).first().waitFor();
    expect(await answer.locator(`a[href^="${site.url}/"]`).first().innerText()).toContain(site.url);
    expect(await answer.locator('script, img').count()).toBe(0);
    expect(await answer.innerText()).not.toContain('window.__injected');
    expect(await page.evaluate(() => (window as unknown as { __injected?: boolean }).__injected)).toBeUndefined();
  });

  it('renames and deletes a conversation (after a confirmation), focus moving sensibly', { timeout: 60_000 }, async () => {
    llm.script = { tokens: ['Port 7431 [1].'], delayMs: 0 };
    const page = await suite.newPage();
    await page.goto(`${suite.server.url}/chat`);
    await ask(page, 'How long are snapshots retained?');
    await page.getByTestId('chat-title').getByText('How long are snapshots retained?').waitFor();
    await page.getByRole('link', { name: '+ New conversation' }).click();
    await ask(page, 'Which port does the gateway listen on?');
    await page.getByTestId('chat-title').getByText('Which port does the gateway listen on?').waitFor();
    await page.getByTestId('chat-assistant').last().getByText('Port 7431').waitFor();

    await page.getByRole('button', { name: 'Rename' }).click();
    const field = page.getByLabel('Conversation title');
    expect(await field.evaluate((el) => el === document.activeElement)).toBe(true);
    await field.fill('Renamed by the test');
    await page.getByRole('button', { name: 'Save' }).click();
    await page.getByTestId('chat-title').getByText('Renamed by the test').waitFor();
    await page.getByRole('navigation', { name: 'Conversations' }).getByRole('link', { name: 'Renamed by the test' }).waitFor();
    expect(await page.getByRole('button', { name: 'Rename' }).evaluate((el) => el === document.activeElement)).toBe(true);
    const sessionId = page.url().split('/chat/')[1]!;
    const stored = await suite.server.gql<{ chatSession: { title: string } }>('query ($id: ID!) { chatSession(id: $id) { title } }', { id: sessionId });
    expect(stored.data!.chatSession.title).toBe('Renamed by the test');

    // Dismissing the confirmation deletes nothing.
    page.once('dialog', (dialog) => void dialog.dismiss());
    await page.getByRole('button', { name: 'Delete' }).click();
    await page.getByTestId('chat-title').getByText('Renamed by the test').waitFor();

    page.once('dialog', (dialog) => {
      expect(dialog.message()).toContain('Renamed by the test');
      void dialog.accept();
    });
    await page.getByRole('button', { name: 'Delete' }).click();
    const nav = page.getByRole('navigation', { name: 'Conversations' });
    await nav.getByRole('link', { name: 'Renamed by the test' }).waitFor({ state: 'detached' });
    // Focus on the conversation that took its place in the list, which is open now.
    await page.waitForFunction(() => document.activeElement?.closest('nav[aria-label="Conversations"]') !== null);
    expect(await page.evaluate(() => document.activeElement?.textContent?.trim())).toBeTruthy();
    const gone = await suite.server.gql<{ chatSession: unknown }>('query ($id: ID!) { chatSession(id: $id) { id } }', { id: sessionId });
    expect(gone.data!.chatSession).toBeNull();
  });

  it('the chat view, with a Markdown answer and the rename form, has no serious or critical axe violation', { timeout: 60_000 }, async () => {
    llm.script = MARKDOWN;
    const page = await suite.newPage();
    await page.goto(`${suite.server.url}/chat`);
    await ask(page, 'How do I start the gateway?');
    await page.getByTestId('chat-assistant').last().getByRole('link', { name: 'the gateway guide' }).waitFor();
    expect(await seriousViolations(page)).toEqual([]);
    await page.getByRole('button', { name: 'Rename' }).click();
    await page.getByLabel('Conversation title').waitFor();
    expect(await seriousViolations(page)).toEqual([]);
  });
});
