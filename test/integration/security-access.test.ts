// Who may do what: without a valid token nothing runs (401), a token without the scope gets
// FORBIDDEN naming the field and the scope, graphql-ws is checked at connect and per operation, and
// the audit fields say who started and who cancelled. Every refusal leaves the server unharmed.
import { describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { appForTest, JOB_PROGRESS, START_CRAWL, type GqlResult } from '../helpers/app.ts';
import { siteForTest } from '../helpers/cleanup.ts';
import {
  app,
  as,
  bearer,
  CANCEL_ALL,
  CANCEL_KNOWN,
  expectUnharmed,
  knownId,
  post,
  QUERY,
  START,
  securedAppSuite,
  TOKENS,
  wsClient,
  wsOnce,
} from '../helpers/secured-app.ts';

securedAppSuite();

describe('HTTP without a valid token: 401 UNAUTHENTICATED before anything runs', () => {
  const cases: [string, Record<string, string>][] = [
    ['no Authorization header', {}],
    ['an unknown token', { authorization: 'Bearer not-a-token-of-this-server-at-all' }],
    ['a known token minus its last character', { authorization: bearer('admin').slice(0, -1) }],
    ['a known token with one more character', { authorization: `${bearer('admin')}x` }],
    ['a known token in another case', { authorization: bearer('admin').toUpperCase().replace('BEARER', 'Bearer') }],
    ['Basic instead of Bearer', { authorization: `Basic ${Buffer.from('admin:admin').toString('base64')}` }],
    ['Bearer with no token', { authorization: 'Bearer ' }],
    ['two tokens in one header', { authorization: `${bearer('admin')} ${bearer('reader')}` }],
    ['the token without "Bearer"', { authorization: TOKENS[0]!.token }],
    ['an 8 KB header', { authorization: `Bearer ${'x'.repeat(8000)}` }],
  ];
  it.each(cases)('%s', async (_name, headers) => {
    for (const query of [QUERY, START, CANCEL_KNOWN(), CANCEL_ALL, '{ __schema { types { name } } }']) {
      const res = await post(JSON.stringify({ query }), headers);
      expect(res.status).toBe(401);
      expect(res.headers.get('www-authenticate')).toMatch(/^Bearer/);
      const body = (await res.json()) as GqlResult;
      expect(body.errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');
      expect(JSON.stringify(body)).not.toContain(TOKENS[0]!.token);
    }
    await expectUnharmed();
  });

  it('an unknown query field is not even validated without a token (no schema hints leak)', async () => {
    const res = await post(JSON.stringify({ query: '{ executionz { id } }' }));
    expect(res.status).toBe(401);
    expect(await res.text()).not.toMatch(/Did you mean/);
  });
});

describe('tokens lacking the scope: FORBIDDEN naming the field and scope', () => {
  const cases: [string, string, string, string][] = [
    ['reader', 'startCrawl', START, 'execute'],
    ['reader', 'cancelExecution', 'mutation { cancelExecution(id: "KNOWN") { accepted } }', 'cancel'],
    ['reader', 'cancelExecutions', CANCEL_ALL, 'cancel'],
    ['reader', 'sendChatMessage', 'mutation { sendChatMessage(input: { text: "hi" }) { id } }', 'execute'],
    ['reader', 'rerunExecution', 'mutation { rerunExecution(id: "KNOWN") { id } }', 'execute'],
    ['stopper', 'rerunExecution', 'mutation { rerunExecution(id: "KNOWN") { id } }', 'execute'],
    ['ci', 'deleteKnowledgeSource', 'mutation { deleteKnowledgeSource(id: "x") { deleted } }', 'admin'],
    ['runner', 'activeExecutions', QUERY, 'read'],
    ['runner', 'cancelExecution', 'mutation { cancelExecution(id: "KNOWN") { accepted } }', 'cancel'],
    ['stopper', 'startCrawl', START, 'execute'],
    ['stopper', 'execution', '{ execution(id: "KNOWN") { id } }', 'read'],
    ['reader', 'startCrawl', 'mutation { innocent: startCrawl(input: { url: "http://127.0.0.1:1/" }) { id } }', 'execute'],
    ['reader', 'startCrawl', 'mutation { ...F } fragment F on Mutation { startCrawl(input: { url: "http://127.0.0.1:1/" }) { id } }', 'execute'],
    ['reader', 'startCrawl', 'mutation { ... on Mutation { startCrawl(input: { url: "http://127.0.0.1:1/" }) { id } } }', 'execute'],
    ['reader', 'startCrawl', 'mutation { startCrawl(input: { url: "http://127.0.0.1:1/" }) @skip(if: true) { id } __typename }', 'execute'],
  ];
  it.each(cases)('%s calling %s', async (token, field, query, scope) => {
    const res = await post(JSON.stringify({ query: query.replace('KNOWN', knownId) }), as(token));
    expect(res.status).toBe(403);
    const body = (await res.json()) as GqlResult;
    expect(body.errors?.[0]?.extensions).toMatchObject({ code: 'FORBIDDEN', field, requiredScope: scope });
    expect(body.errors?.[0]?.message).toContain(`"${scope}"`);
    await expectUnharmed();
  });

  it('the operation named by operationName is the one checked', async () => {
    const doc = `query Q { activeExecutions { id } } mutation M { cancelExecutions { cancelled } }`;
    const res = await post(JSON.stringify({ query: doc, operationName: 'M' }), as('reader'));
    expect(res.status).toBe(403);
    const ok = await post(JSON.stringify({ query: doc, operationName: 'Q' }), as('reader'));
    expect(ok.status).toBe(200);
    await expectUnharmed();
  });

  it('scopes that suffice let the operation through to its own checks', async () => {
    // execute alone may start (the URL is then refused as input), cancel alone may cancel
    const start = await app.gql(START_CRAWL, { input: { url: 'ftp://example.com/' } }, as('runner'));
    expect(start.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
    const rerun = await app.gql(`mutation { rerunExecution(id: "no-such-id") { id } }`, undefined, as('runner'));
    expect(rerun.errors?.[0]?.extensions?.code).toBe('NOT_FOUND');
    const cancel = await app.gql(`mutation { cancelExecution(id: "no-such-id") { accepted } }`, undefined, as('stopper'));
    expect(cancel.errors?.[0]?.extensions?.code).toBe('NOT_FOUND');
    const cancelDone = await app.gql(CANCEL_KNOWN(), undefined, as('stopper'));
    expect(cancelDone.data).toEqual({ cancelExecution: { accepted: false } });
    const introspect = await app.gql(`{ __schema { queryType { name } } }`, undefined, as('reader'));
    expect(introspect.data).toEqual({ __schema: { queryType: { name: 'Query' } } });
    await expectUnharmed();
  });
});

describe('graphql-ws: checked at connect and per operation', () => {
  it.each([
    ['no connectionParams', undefined],
    ['no authorization in them', { token: 'x' }],
    ['a wrong token', { authorization: 'Bearer wrong-token-wrong-token' }],
    ['a token without Bearer', { authorization: TOKENS[0]!.token }],
    ['a non-string authorization', { authorization: { toString: 'x' } }],
  ])('%s: closed with 4401, which the client does not retry', async (_name, params) => {
    let connecting = 0;
    const client = wsClient(params, { retryAttempts: 5, retryWait: async () => undefined, on: { connecting: () => void connecting++ } });
    const error = await wsOnce(client, QUERY).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 4401 });
    expect(connecting).toBe(1);
    await expectUnharmed();
  });

  it('a read-only connection may subscribe and query but not start or cancel', async () => {
    const client = wsClient({ authorization: bearer('reader') });
    expect((await wsOnce(client, QUERY)).data).toEqual({ activeExecutions: [] });
    for (const [query, scope] of [[START, 'execute'], [CANCEL_KNOWN(), 'cancel'], [CANCEL_ALL, 'cancel']] as const) {
      const res = await wsOnce(client, query);
      expect(res.errors?.[0]?.extensions).toMatchObject({ code: 'FORBIDDEN', requiredScope: scope });
    }
    await expectUnharmed();
  });

  it('an execute-only connection may not subscribe (read)', async () => {
    const client = wsClient({ authorization: bearer('runner') });
    const res = await wsOnce(client, `subscription { executionChanged { id } }`);
    expect(res.errors?.[0]?.extensions).toMatchObject({ code: 'FORBIDDEN', field: 'executionChanged', requiredScope: 'read' });
    const progress = await wsOnce(client, JOB_PROGRESS, { id: knownId });
    expect(progress.errors?.[0]?.extensions).toMatchObject({ code: 'FORBIDDEN', field: 'jobProgress' });
    await expectUnharmed();
  });

  it('a page on another site cannot open a WebSocket (cross-site WebSocket hijacking)', async () => {
    const status = await new Promise<number>((resolve, reject) => {
      const socket = new WebSocket(`${app.url.replace('http', 'ws')}/graphql`, 'graphql-transport-ws', { origin: 'https://evil.example' });
      socket.on('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0));
      socket.on('open', () => reject(new Error('opened')));
      socket.on('error', () => undefined);
    });
    expect(status).toBe(403);
    await expectUnharmed();
  });

  it('a message over the size cap closes that socket (1009) and nothing else', async () => {
    const code = await new Promise<number>((resolve) => {
      const socket = new WebSocket(`${app.url.replace('http', 'ws')}/graphql`, 'graphql-transport-ws');
      socket.on('open', () => socket.send(JSON.stringify({ type: 'connection_init', payload: { authorization: bearer('admin'), pad: 'x'.repeat(200_000) } })));
      socket.on('close', (c) => resolve(c));
      socket.on('error', () => undefined);
    });
    expect(code).toBe(1009);
    await expectUnharmed();
  });

  it('malformed and abusive documents get errors and the connection stays usable', async () => {
    const client = wsClient({ authorization: bearer('admin') });
    const syntax = await wsOnce(client, '{ activeExecutions { id ');
    expect(syntax.errors?.[0]?.message).toMatch(/Syntax Error/);
    const deep = await wsOnce(client, `{ ${'a { '.repeat(15)}b${' }'.repeat(15)} }`);
    expect(deep.errors?.map((e) => e.extensions?.code)).toContain('QUERY_TOO_COMPLEX');
    const aliases = await wsOnce(client, `{ ${Array.from({ length: 25 }, (_, i) => `a${i}: activeExecutions { id }`).join(' ')} }`);
    expect(aliases.errors?.[0]).toMatchObject({ message: /Aliases limit/, extensions: { code: 'QUERY_TOO_COMPLEX' } });
    const huge = await wsOnce(client, `{ ${Array.from({ length: 1000 }, (_, i) => `a${i}: activeExecutions { id }`).join(' ')} }`);
    expect(huge.errors?.[0]?.message).toMatch(/Token limit/);
    // the same socket still answers
    expect((await wsOnce(client, QUERY)).data).toEqual({ activeExecutions: [] });
    await expectUnharmed();
  });
});


describe('audit: who started and who cancelled', () => {
  it('records the token names over HTTP and over graphql-ws', async () => {
    const slow = await siteForTest({ pages: 5, delayMs: 60_000 });
    const audit = await appForTest({ apiTokens: TOKENS });
    const started = await audit.gql(START_CRAWL, { input: { url: slow.url } }, as('runner'));
    const id = started.data!.startCrawl.id as string;
    const cancelled = await audit.gql(`mutation ($id: ID!) { cancelExecution(id: $id) { accepted } }`, { id }, as('stopper'));
    expect(cancelled.data).toEqual({ cancelExecution: { accepted: true } });
    const row = await audit.gql(`query ($id: ID!) { execution(id: $id) { createdBy cancelledBy } }`, { id }, as('reader'));
    expect(row.data!.execution).toEqual({ createdBy: 'runner', cancelledBy: 'stopper' });

    const ws = audit.ws({ authorization: bearer('ci') });
    const viaWs = await wsOnce(ws, START_CRAWL, { input: { url: slow.url } });
    const wsId = viaWs.data!.startCrawl.id as string;
    await wsOnce(ws, `mutation ($id: ID!) { cancelExecution(id: $id) { accepted } }`, { id: wsId });
    const wsRow = await audit.gql(`query ($id: ID!) { execution(id: $id) { createdBy cancelledBy } }`, { id: wsId }, as('reader'));
    expect(wsRow.data!.execution).toEqual({ createdBy: 'ci', cancelledBy: 'ci' });
  });
});
