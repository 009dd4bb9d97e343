// Conversations a page at a time (chatSessionHistory): by cursor, the most recently active first,
// counted by the server, on SQLite and PostgreSQL alike; and the store's order on a tie.
import { describe, expect, it, onTestFinished, vi } from 'vitest';
import type { SessionPosition } from '../../server/store/knowledge-records.ts';
import { appForTest, collect, JOB_PROGRESS, type EventPayload, type TestApp } from '../helpers/app.ts';
import { appStores } from '../helpers/app-stores.ts';
import { storeForTest } from '../helpers/cleanup.ts';
import { codeOf } from '../helpers/knowledge.ts';
import { storeFixtures } from '../helpers/stores.ts';

const SEND = `mutation ($input: SendChatMessageInput!) { sendChatMessage(input: $input) { id sessionId } }`;
const PAGE = `query ($after: String, $limit: Int) {
  chatSessionHistory(after: $after, limit: $limit) { sessions { id title } nextCursor totalCount }
}`;
const HISTORY = `{ executionHistory(limit: 1) { nextCursor } }`;

interface Page {
  sessions: { id: string; title: string }[];
  nextCursor: string | null;
  totalCount: number;
}

async function page(t: TestApp, after: string | null, limit: number): Promise<Page> {
  const result = await t.gql<{ chatSessionHistory: Page }>(PAGE, { after, limit });
  if (!result.data) throw new Error(JSON.stringify(result.errors));
  return result.data.chatSessionHistory;
}

/** Asks `text` (in a new conversation unless `sessionId`) and waits for the answer's end, so the session's activity is over. */
async function ask(t: TestApp, text: string, sessionId?: string): Promise<string> {
  const sent = await t.gql<{ sendChatMessage: { id: string; sessionId: string } }>(SEND, { input: { text, sessionId } });
  const { id, sessionId: session } = sent.data!.sendChatMessage;
  await collect<EventPayload>(t.ws(), JOB_PROGRESS, { id, after: 0 }, 'jobProgress').done;
  return session;
}

describe.each(appStores)('chatSessionHistory ($name)', (stores) => {
  it('pages through every conversation once, newest activity first, with the count of all; one that moves up is not seen twice', { timeout: 90_000 }, async () => {
    const t = await appForTest({ ...(await stores.config()), startRateLimitPerMinute: 0 });
    const created: string[] = [];
    for (let i = 0; i < 25; i++) created.push(await ask(t, `Question ${i}?`));
    const newestFirst = [...created].reverse();

    const first = await page(t, null, 10);
    expect(first.totalCount).toBe(25);
    expect(first.sessions.map((s) => s.id)).toEqual(newestFirst.slice(0, 10));
    expect(first.sessions[0]!.title).toBe('Question 24?');
    const second = await page(t, first.nextCursor, 10);
    expect(second.sessions.map((s) => s.id)).toEqual(newestFirst.slice(10, 20));
    expect(second.totalCount).toBe(25);

    // A conversation not yet paged to gets a message: it goes to the top, above the cursor.
    const moved = newestFirst[22]!;
    await ask(t, 'And one more?', moved);
    const third = await page(t, second.nextCursor, 10);
    expect(third.sessions.map((s) => s.id)).toEqual(newestFirst.slice(20).filter((id) => id !== moved));
    expect(third.nextCursor).toBeNull();
    expect((await page(t, null, 1)).sessions.map((s) => s.id)).toEqual([moved]);

    // Paged from the start again: each once, all of them.
    const all: string[] = [];
    for (let after: string | null = null, n = 0; n === 0 || after !== null; n++) {
      const next = await page(t, after, 7);
      all.push(...next.sessions.map((s) => s.id));
      after = next.nextCursor;
    }
    expect(all).toEqual([moved, ...newestFirst.filter((id) => id !== moved)]);
  });

  it('refuses a cursor it did not hand out and a limit out of range, with BAD_USER_INPUT naming the argument', async () => {
    const t = await appForTest({ ...(await stores.config()), startRateLimitPerMinute: 0 });
    await ask(t, 'Only question?');
    const historyCursor = (await t.gql<{ executionHistory: { nextCursor: string | null } }>(HISTORY)).data!.executionHistory.nextCursor;
    for (const after of ['garbage', Buffer.from('s:12').toString('base64url'), Buffer.from('s:1.01').toString('base64url'), historyCursor ?? 'aDox']) {
      const result = await t.gql(PAGE, { after, limit: 5 });
      expect(codeOf(result)).toBe('BAD_USER_INPUT');
      expect(result.errors![0]!.extensions).toMatchObject({ field: 'after' });
      expect(result.errors![0]!.message).toContain('chatSessionHistory');
    }
    for (const limit of [0, 101]) {
      const result = await t.gql(PAGE, { after: null, limit });
      expect(codeOf(result)).toBe('BAD_USER_INPUT');
      expect(result.errors![0]!.extensions).toMatchObject({ field: 'limit' });
    }
    expect((await page(t, null, 100)).totalCount).toBe(1);
  });
});

describe.each(storeFixtures)('ChatStore.sessionPage ($name)', (fixture) => {
  it('orders sessions active in the same millisecond by creation, newest first, and pages across the tie', async () => {
    const store = await storeForTest(fixture);
    vi.useFakeTimers({ toFake: ['Date'], now: 5_000 });
    onTestFinished(() => void vi.useRealTimers());
    const ids: string[] = [];
    for (let i = 0; i < 7; i++) ids.push((await store.chat.createSession(`s${i}`)).id);
    const seen: string[] = [];
    let before: SessionPosition | null = null;
    for (;;) {
      const { rows, total } = await store.chat.sessionPage(before, 3);
      expect(total).toBe(7);
      seen.push(...rows.map((r) => r.session.id));
      if (rows.length < 3) break;
      before = rows.at(-1)!.position;
    }
    expect(seen).toEqual([...ids].reverse());
    // A message moves its session to the top at the next millisecond.
    vi.setSystemTime(5_001);
    await store.chat.addMessages(ids[0]!, [{ role: 'user', text: 'q' }]);
    expect((await store.chat.sessionPage(null, 1)).rows.map((r) => r.session.id)).toEqual([ids[0]]);
    await expect(store.chat.addMessages('no-such-session', [{ role: 'user', text: 'q' }])).rejects.toThrow('no chat session has id "no-such-session"');
  });
});
