import { beforeAll, describe, expect, it } from 'vitest';
import { CANCEL, EXECUTION, START_CRAWL, type TestApp } from '../helpers/app.ts';
import { appStores } from '../helpers/app-stores.ts';
import { suiteResources } from '../helpers/suite-resources.ts';

// The same input gets the same answer on both stores. PostgreSQL cannot store a NUL character (text,
// jsonb) and SQLite can, so a NUL used to work on one and fail with "Unexpected error." on the other,
// leaving half a chat session behind. Both now refuse it with BAD_USER_INPUT, before anything is written.

const NUL = '\u0000';

describe.each(appStores)('a NUL character in the input ($name)', ({ config }) => {
  const resources = suiteResources();
  let app: TestApp;
  beforeAll(async () => {
    app = await resources.app({ ...(await config(resources.defer)), startRateLimitPerMinute: 0 });
  });

  const expectBadInput = (result: { errors?: { message: string; extensions?: { code?: string } }[] }, field: RegExp) => {
    expect(result.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
    expect(result.errors?.[0]?.message).toMatch(field);
    expect(result.errors?.[0]?.message).toMatch(/NUL/);
  };

  it('in a chat question: BAD_USER_INPUT, and no session or message is written', async () => {
    const result = await app.gql(`mutation ($text: String!) { sendChatMessage(input: { text: $text }) { id } }`, { text: `what is a sluice${NUL}?` });
    expectBadInput(result, /text/);
    const sessions = await app.gql(`{ chatSessions { id messages { text } } }`);
    expect(sessions.errors).toBeUndefined();
    expect(sessions.data!.chatSessions).toEqual([]);
  });

  it('in a crawl URL or pattern: BAD_USER_INPUT, and nothing is queued', async () => {
    expectBadInput(await app.gql(START_CRAWL, { input: { url: `http://127.0.0.1:1/${NUL}` } }), /url/);
    expectBadInput(await app.gql(START_CRAWL, { input: { url: 'http://127.0.0.1:1/', includePatterns: [`/docs${NUL}/**`] } }), /includePatterns/);
    expectBadInput(await app.gql(START_CRAWL, { input: { url: 'http://127.0.0.1:1/', excludePatterns: [`${NUL}`] } }), /excludePatterns/);
    const active = await app.gql(`{ activeExecutions { id } }`);
    expect(active.data!.activeExecutions).toEqual([]);
  });

  it('in an id or a cancel reason: BAD_USER_INPUT', async () => {
    expectBadInput(await app.gql(EXECUTION, { id: `abc${NUL}` }), /id/);
    expectBadInput(await app.gql(CANCEL, { id: `abc${NUL}` }), /id/);
    expectBadInput(await app.gql(CANCEL, { id: 'abc', reason: `because${NUL}` }), /reason/);
    expectBadInput(await app.gql(`{ searchKnowledge(query: "sluice\\u0000gate") { url } }`), /query/);
  });
});
