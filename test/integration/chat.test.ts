import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { beforeAll, describe, expect, it } from 'vitest';
import { FACTS, startFactSite } from '../fixtures/fact-site.ts';
import type { Site } from '../fixtures/site.ts';
import { startSlowLlm, wordTokens, type SlowLlm } from '../fixtures/slow-llm.ts';
import { appForTest, collect, JOB_PROGRESS, type EventPayload, type TestApp } from '../helpers/app.ts';
import { deferCleanup } from '../helpers/cleanup.ts';
import { codeOf, crawlToEnd } from '../helpers/knowledge.ts';
import { tempDir } from '../helpers/stores.ts';
import { suiteResources } from '../helpers/suite-resources.ts';

const SEND = /* GraphQL */ `
  mutation ($input: SendChatMessageInput!) { sendChatMessage(input: $input) { id kind status title sessionId } }
`;
const SESSION = /* GraphQL */ `
  query ($id: ID!) {
    chatSession(id: $id) { id title createdAt updatedAt messages { id role text executionId status createdAt } }
  }
`;
const SESSIONS = /* GraphQL */ `
  query ($limit: Int) { chatSessions(limit: $limit) { id title } }
`;
const EXECUTION = /* GraphQL */ `
  query ($id: ID!) { execution(id: $id) { id status cancelReason lastSeq } }
`;
const CANCEL = /* GraphQL */ `
  mutation ($id: ID!) { cancelExecution(id: $id) { accepted execution { id status } } }
`;
const CANCEL_SESSION = /* GraphQL */ `
  mutation ($sessionId: ID!) { cancelExecutions(sessionId: $sessionId, kind: CHAT) { cancelled executions { id status } } }
`;

interface Sent {
  id: string;
  kind: string;
  status: string;
  title: string;
  sessionId: string;
}
interface Message {
  id: string;
  role: string;
  text: string;
  executionId: string | null;
  status: string | null;
}
interface Session {
  id: string;
  title: string;
  messages: Message[];
}

/** Helpers bound to one app: ask, follow an answer to its end, read a session. */
function chatClient(t: TestApp) {
  const ask = async (text: string, sessionId?: string): Promise<Sent> => {
    const result = await t.gql<{ sendChatMessage: Sent }>(SEND, { input: { text, sessionId } });
    if (!result.data) throw new Error(JSON.stringify(result.errors));
    return result.data.sendChatMessage;
  };
  const follow = (id: string, afterSeq = 0) => collect<EventPayload>(t.ws(), JOB_PROGRESS, { id, after: afterSeq }, 'jobProgress');
  const session = async (id: string): Promise<Session> => (await t.gql<{ chatSession: Session }>(SESSION, { id })).data!.chatSession;
  const tokens = (events: EventPayload[]): string => events.filter((e) => e.type === 'TOKEN').map((e) => e.message).join('');
  return { ask, follow, session, tokens };
}

describe('chat answered from the knowledge base (no language model)', () => {
  const resources = suiteResources();
  let t: TestApp;
  let site: Site;
  let chat: ReturnType<typeof chatClient>;

  beforeAll(async () => {
    site = await startFactSite();
    resources.defer(() => site.close());
    t = await resources.app();
    chat = chatClient(t);
    await crawlToEnd(t, site.url);
  });

  it('answers with the fact, cites the page, and keeps the answer in a new session', async () => {
    const question = 'Which port does the Harbour gateway listen on?';
    const sent = await chat.ask(question);
    expect(sent).toMatchObject({ kind: 'CHAT', title: question });
    const events = chat.follow(sent.id);
    await events.done;
    expect(events.items.at(-1)).toMatchObject({ type: 'STATUS', status: 'SUCCEEDED' });

    const session = await chat.session(sent.sessionId);
    expect(session.title).toBe(question);
    const [user, answer] = session.messages;
    expect(session.messages).toHaveLength(2);
    expect(user).toMatchObject({ role: 'user', text: question, executionId: null, status: null });
    expect(answer).toMatchObject({ role: 'assistant', executionId: sent.id, status: 'SUCCEEDED' });
    expect(answer!.text).toContain(FACTS.gatewayPort.fact);
    expect(answer!.text).toMatch(/\[1\]/);
    expect(answer!.text).toContain(`${site.url}${FACTS.gatewayPort.path}`);
    expect(chat.tokens(events.items)).toBe(answer!.text);
    // Coalesced: a few words per TOKEN event, not one event per word, and seqs without gaps.
    const tokenEvents = events.items.filter((e) => e.type === 'TOKEN');
    expect(tokenEvents.length).toBeGreaterThan(1);
    expect(tokenEvents.length).toBeLessThan(answer!.text.split(/\s+/).length / 2);
    expect(events.items.map((e) => e.seq)).toEqual(events.items.map((_, i) => i + 1));
  });

  it('replays the whole answer to a late subscriber', async () => {
    const sent = await chat.ask('How long are snapshots retained?');
    const first = chat.follow(sent.id);
    await first.done;
    const late = chat.follow(sent.id, 0);
    await late.done;
    const stored = (await chat.session(sent.sessionId)).messages.at(-1)!.text;
    expect(stored).toContain(FACTS.retentionDays.fact);
    expect(stored).toContain(`${site.url}${FACTS.retentionDays.path}`);
    expect(late.items).toEqual(first.items);
    expect(chat.tokens(late.items)).toBe(stored);
  });

  it('keeps the conversation in one session and uses the previous question for a follow-up', async () => {
    const first = await chat.ask('Tell me about the Harbour mascot');
    await chat.follow(first.id).done;
    const second = await chat.ask('What is its name?', first.sessionId);
    expect(second.sessionId).toBe(first.sessionId);
    await chat.follow(second.id).done;
    const session = await chat.session(first.sessionId);
    expect(session.messages.map((m) => m.role)).toEqual(['user', 'assistant', 'user', 'assistant']);
    expect(session.title).toBe('Tell me about the Harbour mascot');
    const followUp = session.messages[3]!.text;
    expect(followUp).toContain('Quill');
    expect(followUp).toContain(`${site.url}${FACTS.mascot.path}`);
    const listed = (await t.gql<{ chatSessions: { id: string }[] }>(SESSIONS, { limit: 1 })).data!.chatSessions;
    expect(listed.map((s) => s.id)).toEqual([first.sessionId]);
  });

  it('says plainly when the knowledge base has nothing relevant', async () => {
    const sent = await chat.ask('How do I bake sourdough bread?');
    await chat.follow(sent.id).done;
    const answer = (await chat.session(sent.sessionId)).messages[1]!;
    expect(answer.status).toBe('SUCCEEDED');
    expect(answer.text).toBe(
      'I could not find anything about “How do I bake sourdough bread” in the knowledge base. Crawl a site that covers it first.',
    );
  });

  it('titles a session from a long first question, shortened', async () => {
    const question = `${'Which port does the gateway listen on when it runs behind a proxy '.repeat(3)}?`;
    const sent = await chat.ask(question);
    await chat.follow(sent.id).done;
    const { title } = await chat.session(sent.sessionId);
    expect(title.length).toBeLessThanOrEqual(80);
    expect(title.endsWith('…')).toBe(true);
    expect(question.startsWith(title.slice(0, -1))).toBe(true);
  });

  it.each([
    ['empty text', { text: '' }, 'BAD_USER_INPUT'],
    ['blank text', { text: ' \n ' }, 'BAD_USER_INPUT'],
    ['text over 4000 characters', { text: 'a'.repeat(4001) }, 'BAD_USER_INPUT'],
    ['an unknown session', { text: 'hello', sessionId: 'no-such-session' }, 'NOT_FOUND'],
  ])('refuses %s', async (_, input, code) => {
    expect(codeOf(await t.gql(SEND, { input }))).toBe(code);
  });

  it('answers null for an unknown session and refuses a bad sessions limit', async () => {
    const unknown = await t.gql<{ chatSession: Session | null }>(SESSION, { id: 'no-such-session' });
    expect(unknown.errors).toBeUndefined();
    expect(unknown.data!.chatSession).toBeNull();
    expect(codeOf(await t.gql(SESSIONS, { limit: 0 }))).toBe('BAD_USER_INPUT');
    expect(codeOf(await t.gql(SESSIONS, { limit: 101 }))).toBe('BAD_USER_INPUT');
  });
});

describe('chat answered by a language model (OpenAI-compatible, streaming)', () => {
  const resources = suiteResources();
  let t: TestApp;
  let site: Site;
  let llm: SlowLlm;
  let chat: ReturnType<typeof chatClient>;
  const slow = () => (llm.script = { tokens: wordTokens(400, ['The gateway ', 'listens on ', 'port 7431 ', '[1]. ']), delayMs: 15 });

  beforeAll(async () => {
    site = await startFactSite();
    resources.defer(() => site.close());
    llm = await startSlowLlm({ tokens: [], delayMs: 0 });
    resources.defer(() => llm.close());
    t = await resources.app({ llmBaseUrl: llm.url, llmModel: 'test-model', llmApiKey: 'sk-test' });
    chat = chatClient(t);
    await crawlToEnd(t, site.url);
  });

  it('streams the model answer, given the passages, and appends the pages it cited', async () => {
    llm.script = { tokens: ['The gateway ', 'listens on ', 'port 7431 ', '[1].'], delayMs: 0 };
    const sent = await chat.ask('Which port does the gateway listen on?');
    const events = chat.follow(sent.id);
    await events.done;
    expect(events.items.at(-1)!.status).toBe('SUCCEEDED');
    const request = llm.requests.at(-1)!;
    expect(request.body).toMatchObject({ model: 'test-model', stream: true });
    expect(request.authorization).toBe('Bearer sk-test');
    const prompt = request.body.messages!.at(-1)!.content;
    expect(prompt).toContain('listens on port 7431');
    expect(prompt).toContain(`[1] Gateway (${site.url}/gateway)`);

    const answer = (await chat.session(sent.sessionId)).messages[1]!;
    expect(answer.text).toBe(`The gateway listens on port 7431 [1].\n\nSources:\n[1] Gateway: ${site.url}/gateway`);
    expect(chat.tokens(events.items)).toBe(answer.text);
  });

  it('stops mid-stream on cancel: CANCELLED, the partial text kept, the model connection closed', async () => {
    slow();
    const sent = await chat.ask('Which port does the gateway listen on?');
    const events = chat.follow(sent.id);
    await events.until((e) => e.type === 'TOKEN');
    const cancel = await t.gql<{ cancelExecution: { accepted: boolean; execution: { status: string } } }>(CANCEL, { id: sent.id });
    expect(cancel.data!.cancelExecution.accepted).toBe(true);
    await events.done;
    expect(events.items.at(-1)).toMatchObject({ type: 'STATUS', status: 'CANCELLED' });

    const request = llm.requests.at(-1)!;
    await llm.waitFor(() => request.disconnected);
    expect(request.completed).toBe(false);
    expect(request.tokensSent).toBeLessThan(llm.script.tokens.length);

    const answer = (await chat.session(sent.sessionId)).messages[1]!;
    expect(answer.status).toBe('CANCELLED');
    expect(answer.text.startsWith('The gateway')).toBe(true);
    expect(answer.text).not.toContain('Sources:');
    expect(chat.tokens(events.items)).toBe(answer.text);
    // A late subscriber sees the same partial answer and the same end.
    const late = chat.follow(sent.id, 0);
    await late.done;
    expect(late.items).toEqual(events.items);
  });

  it('cancels the running answer when a newer question arrives in the session (superseded)', async () => {
    slow();
    const first = await chat.ask('Which port does the gateway listen on?');
    const firstEvents = chat.follow(first.id);
    await firstEvents.until((e) => e.type === 'TOKEN');

    const second = await chat.ask('How long are snapshots retained?', first.sessionId);
    await firstEvents.done;
    expect(firstEvents.items.at(-1)).toMatchObject({ status: 'CANCELLED' });
    const old = await t.gql<{ execution: { status: string; cancelReason: string } }>(EXECUTION, { id: first.id });
    expect(old.data!.execution).toMatchObject({ status: 'CANCELLED', cancelReason: 'superseded by a newer question' });

    const secondEvents = chat.follow(second.id);
    await secondEvents.until((e) => e.type === 'TOKEN');
    const stop = await t.gql<{ cancelExecutions: { cancelled: number; executions: { id: string }[] } }>(CANCEL_SESSION, {
      sessionId: first.sessionId,
    });
    expect(stop.data!.cancelExecutions).toMatchObject({ cancelled: 1, executions: [{ id: second.id }] });
    await secondEvents.done;

    const session = await chat.session(first.sessionId);
    expect(session.messages.map((m) => [m.role, m.status])).toEqual([
      ['user', null],
      ['assistant', 'CANCELLED'],
      ['user', null],
      ['assistant', 'CANCELLED'],
    ]);
    expect(session.messages[1]!.text).toBe(chat.tokens(firstEvents.items));
    expect(session.messages[3]!.text).toBe(chat.tokens(secondEvents.items));
    await llm.waitFor(() => llm.requests.slice(-2).every((r) => r.disconnected));
  });

  it('keeps only the newest answer running when questions race in one session', async () => {
    slow();
    const first = await chat.ask('Which port does the gateway listen on?');
    await chat.follow(first.id).until((e) => e.type === 'TOKEN');
    const questions = ['How long are snapshots retained?', 'Who is the mascot?', 'Which port?'];
    await Promise.all(questions.map((q) => chat.ask(q, first.sessionId)));

    // Every answer but the newest (in creation order) was superseded before its request returned.
    const all = await t.app.store.listExecutions({ kind: 'CHAT', sessionId: first.sessionId, oldestFirst: true });
    expect(all).toHaveLength(4);
    const newest = all.at(-1)!;
    for (const older of all.slice(0, -1)) {
      expect(older.cancelReason).toBe('superseded by a newer question');
      expect(['CANCELLING', 'CANCELLED']).toContain(older.status);
    }
    expect(['QUEUED', 'RUNNING']).toContain(newest.status);

    const streams = all.map((e) => chat.follow(e.id));
    await t.gql(CANCEL_SESSION, { sessionId: first.sessionId });
    await Promise.all(streams.map((s) => s.done));
    expect(streams.map((s) => s.items.at(-1)!.status)).toEqual(['CANCELLED', 'CANCELLED', 'CANCELLED', 'CANCELLED']);
  });

  it('fails the answer with the model error when the endpoint refuses', async () => {
    const broken = await appForTest({ llmBaseUrl: `${llm.url}/missing`, llmModel: 'test-model' });
    await crawlToEnd(broken, site.url);
    const sent = await chatClient(broken).ask('Which port does the gateway listen on?');
    const events = chatClient(broken).follow(sent.id);
    await events.done;
    expect(events.items.at(-1)).toMatchObject({ status: 'FAILED' });
    const execution = await broken.app.store.getExecution(sent.id);
    expect(execution!.error).toMatch(/HTTP 404/);
  });

  it('kill -9 mid-answer: after a restart the history shows exactly the tokens its log holds, all that was emitted', async () => {
    slow();
    const dir = tempDir();
    deferCleanup(() => dir.remove());
    const child = spawn(process.execPath, ['--import', 'tsx', 'server/main.ts'], {
      env: {
        ...process.env,
        PORT: '0',
        SLUICE_DATA_DIR: dir.path,
        SLUICE_ALLOW_PRIVATE_NETWORKS: 'true',
        SLUICE_LLM_BASE_URL: llm.url,
        SLUICE_LLM_MODEL: 'test-model',
        LOG_LEVEL: 'info',
      },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    deferCleanup(() => void (child.exitCode === null && child.kill('SIGKILL')));
    let url = '';
    for await (const line of createInterface({ input: child.stdout! })) {
      url = /listening on (http:\/\/[\d.:]+)/.exec(line)?.[1] ?? '';
      if (url) break;
    }
    const gql = async <T,>(query: string, variables: Record<string, unknown>): Promise<T> => {
      const res = await fetch(`${url}/graphql`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ query, variables }) });
      return ((await res.json()) as { data: T }).data;
    };
    const crawl = await gql<{ startCrawl: { id: string } }>('mutation ($input: StartCrawlInput!) { startCrawl(input: $input) { id } }', { input: { url: site.url, maxDepth: 2 } });
    while ((await gql<{ execution: { status: string } }>(EXECUTION, { id: crawl.startCrawl.id })).execution.status !== 'SUCCEEDED') await new Promise((r) => setTimeout(r, 20));
    const sent = (await gql<{ sendChatMessage: Sent }>(SEND, { input: { text: 'Which port does the gateway listen on?' } })).sendChatMessage;
    // What a client saw of the answer before the crash: several tokens in.
    let seen = '';
    while (seen.length < 60) seen = (await gql<{ chatSession: Session }>(SESSION, { id: sent.sessionId })).chatSession.messages[1]!.text;
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGKILL');
    await exited;

    const second = await appForTest({ dataDir: dir.path, llmBaseUrl: llm.url, llmModel: 'test-model' });
    const chat2 = chatClient(second);
    const events = chat2.follow(sent.id);
    await events.done;
    expect(events.items.at(-1)).toMatchObject({ type: 'STATUS', status: 'INTERRUPTED' });
    const answer = (await chat2.session(sent.sessionId)).messages[1]!;
    expect(answer.status).toBe('INTERRUPTED');
    expect(answer.text).toBe(chat2.tokens(events.items));
    expect(answer.text.startsWith(seen)).toBe(true);
  });

  it('a graceful stop mid-answer ends it INTERRUPTED with its text kept; the next start does not re-answer', async () => {
    slow();
    // first's cleanup removes the data folder both use, after second (started later) has stopped
    const first = await appForTest({ llmBaseUrl: llm.url, llmModel: 'test-model' });
    await crawlToEnd(first, site.url);
    const sent = await chatClient(first).ask('Which port does the gateway listen on?');
    await chatClient(first).follow(sent.id).until((e) => e.type === 'TOKEN');
    await first.stop({ remove: false });
    const requests = llm.requests.length;

    const second = await appForTest({ dataDir: first.dataDir, llmBaseUrl: llm.url, llmModel: 'test-model' });
    const chat2 = chatClient(second);
    const events = chat2.follow(sent.id);
    await events.done;
    expect(events.items.at(-1)).toMatchObject({ type: 'STATUS', status: 'INTERRUPTED', message: expect.stringContaining('cannot resume') });
    const answer = (await chat2.session(sent.sessionId)).messages[1]!;
    expect(answer.status).toBe('INTERRUPTED');
    expect(answer.text.startsWith('The gateway')).toBe(true);
    expect(chat2.tokens(events.items)).toBe(answer.text);
    expect(llm.requests.length).toBe(requests);
  });
});
