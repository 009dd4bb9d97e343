// A question sent while its conversation is being deleted, with the interleaving forced: a store
// wrapper pauses before one step of one request and runs the other request in full there. Whatever
// the order, the outcome is one of the two a user can make sense of: the delete went first and the
// question is refused with NOT_FOUND, or the question went first and the delete stops its answer with
// the rest. Never messages left without their session, never an answer running for a deleted one.
import { describe, expect, it } from 'vitest';
import type { Config } from '../../server/config.ts';
import type { NewExecution } from '../../server/executions/types.ts';
import { SESSION_DELETED } from '../../server/services/chat.ts';
import type { Store } from '../../server/store/store.ts';
import { startFactSite } from '../fixtures/fact-site.ts';
import { startSlowLlm, wordTokens, type SlowLlm } from '../fixtures/slow-llm.ts';
import { appForTest, collect, JOB_PROGRESS, type EventPayload, type GqlResult, type TestApp } from '../helpers/app.ts';
import { appStores } from '../helpers/app-stores.ts';
import { deferCleanup } from '../helpers/cleanup.ts';
import { codeOf, crawlToEnd } from '../helpers/knowledge.ts';

const SEND = `mutation ($input: SendChatMessageInput!) { sendChatMessage(input: $input) { id sessionId } }`;
const DELETE = `mutation ($id: ID!) { deleteChatSession(id: $id) }`;
const SESSION = `query ($id: ID!) { chatSession(id: $id) { id } }`;
const SESSION_EXECUTIONS = `query ($id: ID!) { executions(sessionId: $id) { id status cancelReason } }`;
const ACTIVE = `query ($id: ID!) { activeExecutions(sessionId: $id) { id } }`;

/** An answer slow enough to be running when the race is decided (seconds of tokens). */
const SLOW = { tokens: wordTokens(200, ['The gateway ']), delayMs: 20 };

/** A pause: before the first call of the method whose arguments `when` accepts (while armed), `run` runs to its end. */
interface Pause {
  armed: boolean;
  when: (...args: never[]) => boolean;
  run: () => Promise<void>;
}

/** `target` with `key` paused once by `pause` ahead of the real call. */
function pausedBefore<T extends object>(target: T, key: string, pause: Pause): T {
  return new Proxy(target, {
    get(object, property, receiver) {
      const value = Reflect.get(object, property, receiver) as unknown;
      if (property !== key || typeof value !== 'function') return value;
      return async (...args: never[]) => {
        if (pause.armed && pause.when(...args)) {
          pause.armed = false;
          await pause.run();
        }
        return (value as (...a: never[]) => unknown).apply(object, args);
      };
    },
  });
}

type Step = 'addMessages' | 'createExecution' | 'deleteSession';

/** The store with `pause` before one step: the chat slice's addMessages or deleteSession, or the store's createExecution. */
function storeWithPause(store: Store, step: Step, pause: Pause): Store {
  if (step === 'createExecution') return pausedBefore(store, step, pause);
  const chat = pausedBefore(store.chat, step, pause);
  return new Proxy(store, { get: (object, key, receiver) => (key === 'chat' ? chat : Reflect.get(object, key, receiver)) });
}

interface Race {
  t: TestApp;
  /** The store under the wrapper: what is really stored. */
  store: Store;
  llm: SlowLlm;
  /** The conversation raced over, with one finished answer in it. */
  sessionId: string;
  firstAnswer: string;
  /** The model requests made before the race (the first answer's). */
  requestsBefore: number;
  pause: Pause;
}

async function raceSetUp(config: Partial<Config>, step: Step): Promise<Race> {
  const site = await startFactSite();
  deferCleanup(() => site.close());
  const llm = await startSlowLlm({ tokens: ['Port 7431 [1].'], delayMs: 0 });
  deferCleanup(() => llm.close());
  const pause: Pause = { armed: false, when: () => true, run: async () => {} };
  let store: Store | null = null;
  const t = await appForTest({
    ...config,
    llmBaseUrl: llm.url,
    llmModel: 'test-model',
    wrapStore: (s) => {
      store = s;
      return storeWithPause(s, step, pause);
    },
  });
  await crawlToEnd(t, site.url);
  const first = await t.gql<{ sendChatMessage: { id: string; sessionId: string } }>(SEND, { input: { text: 'Which port does the gateway listen on?' } });
  const { id: firstAnswer, sessionId } = first.data!.sendChatMessage;
  await collect<EventPayload>(t.ws(), JOB_PROGRESS, { id: firstAnswer, after: 0 }, 'jobProgress').done;
  llm.script = SLOW;
  return { t, store: store!, llm, sessionId, firstAnswer, requestsBefore: llm.requests.length, pause };
}

/** The execution once it has ended (its jobProgress stream completes after the terminal event). */
async function ended(t: TestApp, id: string): Promise<{ id: string; status: string; cancelReason: string | null }> {
  await collect<EventPayload>(t.ws(), JOB_PROGRESS, { id, after: 0 }, 'jobProgress').done;
  return (await t.gql(`query ($id: ID!) { execution(id: $id) { id status cancelReason } }`, { id })).data!.execution;
}

/** What is left of the conversation: nothing of it stored, and nothing of it running. */
async function expectGone(race: Race): Promise<void> {
  const { t, store, sessionId } = race;
  expect((await t.gql<{ chatSession: unknown }>(SESSION, { id: sessionId })).data!.chatSession).toBeNull();
  expect(await store.chat.listMessages(sessionId)).toEqual([]);
  expect((await t.gql<{ activeExecutions: unknown[] }>(ACTIVE, { id: sessionId })).data!.activeExecutions).toEqual([]);
}

/** The answers of the conversation besides the first (finished before the race). */
async function racingAnswers(race: Race): Promise<string[]> {
  const listed = await race.t.gql<{ executions: { id: string }[] }>(SESSION_EXECUTIONS, { id: race.sessionId });
  return listed.data!.executions.map((e) => e.id).filter((id) => id !== race.firstAnswer);
}

describe.each(appStores)('a question sent while its conversation is deleted ($name)', (stores) => {
  it('the delete goes in full between the question\'s look at the session and its messages: NOT_FOUND, nothing kept', { timeout: 60_000 }, async () => {
    const race = await raceSetUp(await stores.config(), 'addMessages');
    let deleted: GqlResult | null = null;
    race.pause.when = ((sessionId: string) => sessionId === race.sessionId) as Pause['when'];
    race.pause.run = async () => void (deleted = await race.t.gql(DELETE, { id: race.sessionId }));
    race.pause.armed = true;

    const sent = await race.t.gql(SEND, { input: { text: 'How long are snapshots retained?', sessionId: race.sessionId } });
    expect(deleted!.data).toEqual({ deleteChatSession: true });
    // Without the fix: the messages' foreign key failed, masked as an unexpected error.
    expect(codeOf(sent)).toBe('NOT_FOUND');
    expect(sent.errors![0]!.message).toContain(race.sessionId);
    expect(await racingAnswers(race)).toEqual([]);
    await expectGone(race);
  });

  it('the delete goes in full between the question\'s messages and its answer\'s execution: NOT_FOUND, the answer cancelled', { timeout: 60_000 }, async () => {
    const race = await raceSetUp(await stores.config(), 'createExecution');
    let deleted: GqlResult | null = null;
    race.pause.when = ((input: NewExecution) => input.kind === 'CHAT' && input.sessionId === race.sessionId) as Pause['when'];
    race.pause.run = async () => void (deleted = await race.t.gql(DELETE, { id: race.sessionId }));
    race.pause.armed = true;

    const sent = await race.t.gql(SEND, { input: { text: 'How long are snapshots retained?', sessionId: race.sessionId } });
    expect(deleted!.data).toEqual({ deleteChatSession: true });
    // Without the fix: accepted, and an answer ran on for a conversation that was gone.
    expect(codeOf(sent)).toBe('NOT_FOUND');
    const [answer, ...others] = await racingAnswers(race);
    expect(others).toEqual([]);
    expect(await ended(race.t, answer!)).toMatchObject({ status: 'CANCELLED', cancelReason: SESSION_DELETED });
    await expectGone(race);
  });

  it('the question goes in full between the delete\'s look for answers and the delete: the delete stops its answer', { timeout: 60_000 }, async () => {
    const race = await raceSetUp(await stores.config(), 'deleteSession');
    let sent: GqlResult<{ sendChatMessage: { id: string; sessionId: string } }> | null = null;
    race.pause.when = ((sessionId: string) => sessionId === race.sessionId) as Pause['when'];
    race.pause.run = async () => void (sent = await race.t.gql(SEND, { input: { text: 'How long are snapshots retained?', sessionId: race.sessionId } }));
    race.pause.armed = true;

    const deleted = await race.t.gql(DELETE, { id: race.sessionId });
    expect(deleted.data).toEqual({ deleteChatSession: true });
    expect(sent!.errors).toBeUndefined();
    const answer = sent!.data!.sendChatMessage.id;
    // Without the fix: the delete's only look came before this answer existed, so it ran to its end.
    expect(await ended(race.t, answer)).toMatchObject({ status: 'CANCELLED', cancelReason: SESSION_DELETED });
    // Its model stream, if it had begun, was given up before the end.
    const request = race.llm.requests[race.requestsBefore];
    if (request) {
      await race.llm.waitFor(() => request.disconnected || request.completed);
      expect(request.completed).toBe(false);
    }
    await expectGone(race);
  });
});
