// The chat store against the real server: opening conversations quickly never shows one under the
// other's address, nor sends into the wrong one.
import { beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { Client } from '@urql/core';
import { startSlowLlm, wordTokens, type SlowLlm } from '../fixtures/slow-llm.ts';
import type { TestApp } from '../helpers/app.ts';
import { useChatStore } from '../../client/stores/chat.ts';
import { storesForTest, until } from '../helpers/client-helpers.ts';
import { suiteResources } from '../helpers/suite-resources.ts';

const resources = suiteResources();
let server: TestApp;
let llm: SlowLlm;
let stores: ReturnType<typeof storesForTest>;

beforeAll(async () => {
  llm = await startSlowLlm({ tokens: wordTokens(3), delayMs: 1 });
  resources.defer(() => llm.close());
  server = await resources.app({ llmBaseUrl: llm.url, llmModel: 'test-model' });
});

beforeEach(() => {
  stores = storesForTest(server);
});

async function newSession(text: string): Promise<string> {
  const result = await server.gql<{ sendChatMessage: { sessionId: string } }>(
    'mutation($input: SendChatMessageInput!) { sendChatMessage(input: $input) { sessionId } }',
    { input: { text } },
  );
  return result.data!.sendChatMessage.sessionId;
}

/** Holds the answer to the ChatSession query for `id` until `release()` (the race, on purpose). */
function holdSessionAnswer(client: Client, id: string): { release(): void } {
  let release!: () => void;
  const gate = new Promise<void>((resolve) => (release = resolve));
  const query = client.query.bind(client);
  client.query = ((document, variables, context) => {
    const source = query(document, variables, context);
    if ((variables as { id?: string } | undefined)?.id !== id) return source;
    const answer = source.toPromise.bind(source);
    return Object.assign(source, { toPromise: () => gate.then(answer) });
  }) as Client['query'];
  return { release };
}

describe('chat conversations opened quickly', () => {
  it('shows and sends into the one opened last, whatever order the answers come in', async () => {
    const [first, second] = [await newSession('first question'), await newSession('second question')];
    const chat = useChatStore();
    const held = holdSessionAnswer(stores.connection.client(), first);

    const openingFirst = chat.open(first);
    await chat.open(second); // the second answer arrives first
    held.release();
    await openingFirst; // then the first one's, late

    expect(chat.session?.id).toBe(second);
    expect(chat.bubbles[0]?.text).toBe('second question');
    const sent = await chat.send('a follow-up');
    expect(sent?.sessionId).toBe(second);
    await until(() => chat.bubbles.some((bubble) => bubble.text === 'a follow-up'), 10_000, 'the follow-up shown');
  });
});

/** Holds the answer to the DeleteChatSession mutation until `release()` (the delete in flight, on purpose). */
function holdDeleteAnswer(client: Client): { release(): void } {
  let release!: () => void;
  const gate = new Promise<void>((resolve) => (release = resolve));
  const mutation = client.mutation.bind(client);
  client.mutation = ((document, variables, context) => {
    const source = mutation(document, variables, context);
    const answer = source.toPromise.bind(source);
    return Object.assign(source, { toPromise: () => gate.then(answer) });
  }) as Client['mutation'];
  return { release };
}

const MESSAGES = 'query($id: ID!) { chatSession(id: $id) { messages { text } } }';

describe('a question sent while its conversation is deleted', () => {
  it('is not sent while the delete is in flight, and a conversation deleted elsewhere says so plainly', async () => {
    const id = await newSession('what is a sluice?');
    const chat = useChatStore();
    await chat.open(id);
    const held = holdDeleteAnswer(stores.connection.client());
    const deleting = chat.remove(id);

    expect(await chat.send('one more question')).toBeNull();
    expect(chat.sending).toMatchObject({ status: 'error', error: { code: 'CONFLICT', message: expect.stringContaining('being deleted') } });
    const kept = await server.gql<{ chatSession: { messages: { text: string }[] } }>(MESSAGES, { id });
    expect(kept.data!.chatSession.messages.map((m) => m.text)).not.toContain('one more question');
    held.release();
    expect(await deleting).toBe(true);

    // Another tab still shows it and sends into it: the server's NOT_FOUND reads as what happened.
    const other = await newSession('another conversation');
    const chatHere = useChatStore();
    await chatHere.open(other);
    await server.gql('mutation($id: ID!) { deleteChatSession(id: $id) }', { id: other });
    expect(await chatHere.send('are you there?')).toBeNull();
    expect(chatHere.sending).toMatchObject({
      status: 'error',
      error: { code: 'NOT_FOUND', message: 'This conversation was deleted, so your question was not sent. Start a new conversation to ask it.' },
    });
  });
});
