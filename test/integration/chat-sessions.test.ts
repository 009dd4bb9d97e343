// Renaming and deleting a conversation through the API, on SQLite and PostgreSQL alike.
import { beforeAll, describe, expect, it } from 'vitest';
import { SESSION_DELETED } from '../../server/services/chat.ts';
import { startFactSite } from '../fixtures/fact-site.ts';
import type { Site } from '../fixtures/site.ts';
import { startSlowLlm, wordTokens, type SlowLlm } from '../fixtures/slow-llm.ts';
import { collect, JOB_PROGRESS, type EventPayload, type TestApp } from '../helpers/app.ts';
import { codeOf, crawlToEnd } from '../helpers/knowledge.ts';
import { appStores } from '../helpers/app-stores.ts';
import { suiteResources } from '../helpers/suite-resources.ts';

const SEND = /* GraphQL */ `
  mutation ($input: SendChatMessageInput!) { sendChatMessage(input: $input) { id sessionId } }
`;
const SESSION = /* GraphQL */ `
  query ($id: ID!) { chatSession(id: $id) { id title updatedAt messages { id text } } }
`;
const SESSIONS = /* GraphQL */ `{ chatSessions(limit: 100) { id title } }`;
const RENAME = /* GraphQL */ `
  mutation ($id: ID!, $title: String!) { renameChatSession(id: $id, title: $title) { id title updatedAt } }
`;
const DELETE = /* GraphQL */ `mutation ($id: ID!) { deleteChatSession(id: $id) }`;
const EXECUTION = /* GraphQL */ `query ($id: ID!) { execution(id: $id) { id status cancelReason } }`;

describe.each(appStores)('renaming and deleting a conversation ($name)', ({ config }) => {
  const resources = suiteResources();
  let t: TestApp;
  let site: Site;
  let llm: SlowLlm;

  beforeAll(async () => {
    const store = await config(resources.defer);
    site = await startFactSite();
    resources.defer(() => site.close());
    llm = await startSlowLlm({ tokens: [], delayMs: 0 });
    resources.defer(() => llm.close());
    t = await resources.app({ ...store, llmBaseUrl: llm.url, llmModel: 'test-model', llmApiKey: 'sk-test' });
    await crawlToEnd(t, site.url);
  });

  const ask = async (text: string, sessionId?: string) => {
    const result = await t.gql<{ sendChatMessage: { id: string; sessionId: string } }>(SEND, { input: { text, sessionId } });
    if (!result.data) throw new Error(JSON.stringify(result.errors));
    return result.data.sendChatMessage;
  };

  it('renames a conversation: the title trimmed, its messages and updatedAt unchanged', async () => {
    llm.script = { tokens: ['Port 7431 [1].'], delayMs: 0 };
    const sent = await ask('Which port does the gateway listen on?');
    await collect<EventPayload>(t.ws(), JOB_PROGRESS, { id: sent.id, after: 0 }, 'jobProgress').done;
    const before = (await t.gql<{ chatSession: { updatedAt: string; messages: unknown[] } }>(SESSION, { id: sent.sessionId })).data!.chatSession;

    const renamed = await t.gql<{ renameChatSession: { id: string; title: string; updatedAt: string } }>(RENAME, {
      id: sent.sessionId,
      title: '  Gateway port  ',
    });
    expect(renamed.data!.renameChatSession).toEqual({ id: sent.sessionId, title: 'Gateway port', updatedAt: before.updatedAt });
    const after = (await t.gql<{ chatSession: { title: string; messages: unknown[] } }>(SESSION, { id: sent.sessionId })).data!.chatSession;
    expect(after.title).toBe('Gateway port');
    expect(after.messages).toEqual(before.messages);
    const listed = (await t.gql<{ chatSessions: { id: string; title: string }[] }>(SESSIONS)).data!.chatSessions;
    expect(listed.find((s) => s.id === sent.sessionId)?.title).toBe('Gateway port');
  });

  it.each([
    ['an empty title', '   ', 'BAD_USER_INPUT'],
    ['a title over 80 characters', 'x'.repeat(81), 'BAD_USER_INPUT'],
    ['a NUL character', 'a\u0000b', 'BAD_USER_INPUT'],
  ])('refuses %s, the title kept', async (_, title, code) => {
    const sent = await ask('How long are snapshots retained?');
    const result = await t.gql(RENAME, { id: sent.sessionId, title });
    expect(codeOf(result)).toBe(code);
    const session = (await t.gql<{ chatSession: { title: string } }>(SESSION, { id: sent.sessionId })).data!.chatSession;
    expect(session.title).toBe('How long are snapshots retained?');
  });

  it('answers NOT_FOUND to a rename or delete of an unknown conversation', async () => {
    expect(codeOf(await t.gql(RENAME, { id: 'no-such-session', title: 'x' }))).toBe('NOT_FOUND');
    expect(codeOf(await t.gql(DELETE, { id: 'no-such-session' }))).toBe('NOT_FOUND');
  });

  it('deletes a conversation while its answer is being written: the answer cancelled first, the session and messages gone', async () => {
    llm.script = { tokens: wordTokens(400, ['The gateway ', 'listens on ']), delayMs: 15 };
    const keep = await ask('Which port does the gateway listen on?');
    const sent = await ask('Which port does the gateway listen on?');
    const events = collect<EventPayload>(t.ws(), JOB_PROGRESS, { id: sent.id, after: 0 }, 'jobProgress');
    await events.until((e) => e.type === 'TOKEN');

    const deleted = await t.gql<{ deleteChatSession: boolean }>(DELETE, { id: sent.sessionId });
    expect(deleted.data!.deleteChatSession).toBe(true);
    await events.done;
    expect(events.items.at(-1)).toMatchObject({ type: 'STATUS', status: 'CANCELLED' });
    const execution = (await t.gql<{ execution: { status: string; cancelReason: string } }>(EXECUTION, { id: sent.id })).data!.execution;
    expect(execution).toMatchObject({ status: 'CANCELLED', cancelReason: SESSION_DELETED });
    const request = llm.requests.at(-1)!;
    await llm.waitFor(() => request.disconnected || request.completed);
    expect(request.completed).toBe(false);

    expect((await t.gql<{ chatSession: unknown }>(SESSION, { id: sent.sessionId })).data!.chatSession).toBeNull();
    const listed = (await t.gql<{ chatSessions: { id: string }[] }>(SESSIONS)).data!.chatSessions.map((s) => s.id);
    expect(listed).not.toContain(sent.sessionId);
    // Another conversation is untouched, and a second delete is NOT_FOUND.
    expect(listed).toContain(keep.sessionId);
    expect((await t.gql<{ chatSession: { messages: unknown[] } }>(SESSION, { id: keep.sessionId })).data!.chatSession.messages).toHaveLength(2);
    expect(codeOf(await t.gql(DELETE, { id: sent.sessionId }))).toBe('NOT_FOUND');
    // Asking in the deleted conversation is NOT_FOUND, not a broken reference.
    expect(codeOf(await t.gql(SEND, { input: { text: 'again?', sessionId: sent.sessionId } }))).toBe('NOT_FOUND');
  });
});
