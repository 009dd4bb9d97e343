// Who may do what, and what hostile or broken input does to a running server: every case asserts
// the error code, that no request reached a site, that /health still answers, and that the stored
// executions are exactly as they were.
import { request as httpRequest } from 'node:http';
import { createClient, type Client } from 'graphql-ws';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { createApp } from '../../server/app.ts';
import type { AddressRules } from '../../server/jobs/crawl/address.ts';
import { isDisallowedAddress } from '../../server/jobs/crawl/address.ts';
import { DEFAULT_CRAWL_LIMITS, parseCrawlInput } from '../../server/jobs/crawl/input.ts';
import { startSite, type Site } from '../fixtures/site.ts';
import { collect, JOB_PROGRESS, START_CRAWL, startTestApp, type EventPayload, type GqlResult, type TestApp } from '../helpers/app.ts';
import { tempDir } from '../helpers/stores.ts';
import { crawl as runCrawl, createTestContext } from '../helpers/crawl-test-context.ts';
import type { ApiToken } from '../../server/security/tokens.ts';

const TOKENS: ApiToken[] = [
  { name: 'admin', token: 'admin-token-0123456789abcdef', scopes: ['admin'] },
  { name: 'reader', token: 'reader-token-0123456789abcdef', scopes: ['read'] },
  { name: 'runner', token: 'runner-token-0123456789abcdef', scopes: ['execute'] },
  { name: 'stopper', token: 'stopper-token-0123456789abcdef', scopes: ['cancel'] },
  { name: 'ci', token: 'ci-token-0123456789abcdef', scopes: ['read', 'execute', 'cancel'] },
  { name: 'burst', token: 'burst-token-0123456789abcdef', scopes: ['execute'] },
  { name: 'burst-ws', token: 'burst-ws-token-0123456789abcdef', scopes: ['execute'] },
];
const bearer = (name: string) => `Bearer ${TOKENS.find((t) => t.name === name)!.token}`;
const as = (name: string) => ({ authorization: bearer(name) });
const RATE = 5;

let app: TestApp;
let site: Site;
let knownId: string;
let baseline: unknown;
let requestsAtBaseline: number;
const clients: Client[] = [];

/** Every stored execution with the fields a hostile request could change. */
async function snapshot(): Promise<unknown> {
  const res = await app.gql(
    `{ executions(limit: 500) { id kind status title sessionId createdBy cancelledBy cancelReason lastSeq error attempt
       progress { stage pagesFetched pagesFailed pagesSkipped chunksStored } } }`,
    undefined,
    as('admin'),
  );
  expect(res.errors).toBeUndefined();
  return res.data!.executions;
}

/** The server answers, no request reached the site, and the stored executions are unchanged. */
async function expectUnharmed(): Promise<void> {
  expect((await fetch(`${app.url}/health`)).status).toBe(200);
  expect(site.requestCount()).toBe(requestsAtBaseline);
  expect(await snapshot()).toEqual(baseline);
}

function wsClient(connectionParams?: Record<string, unknown>, extra: Partial<Parameters<typeof createClient>[0]> = {}): Client {
  const client = createClient({ url: `${app.url.replace('http', 'ws')}/graphql`, webSocketImpl: WebSocket, connectionParams, retryAttempts: 0, lazy: true, ...extra });
  clients.push(client);
  return client;
}

/** The first result of an operation over graphql-ws; rejects with the close event or error messages. */
function wsOnce(client: Client, query: string, variables?: Record<string, unknown>): Promise<GqlResult> {
  return new Promise((resolve, reject) => {
    let settled = false;
    const dispose = client.subscribe(
      { query, variables },
      {
        next: (result) => {
          settled = true;
          dispose();
          resolve({ status: 0, data: result.data ?? undefined, errors: result.errors as GqlResult['errors'] });
        },
        error: (error) => {
          settled = true;
          if (Array.isArray(error)) resolve({ status: 0, errors: error as GqlResult['errors'] });
          else reject(error);
        },
        complete: () => {
          if (!settled) reject(new Error('completed without a result'));
        },
      },
    );
  });
}

function post(body: string, headers: Record<string, string> = {}): Promise<Response> {
  return fetch(`${app.url}/graphql`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body });
}

beforeAll(async () => {
  site = await startSite({ pages: 3 });
  app = await startTestApp({ apiTokens: TOKENS, startRateLimitPerMinute: RATE });
  // One finished execution whose row every hostile request below must leave untouched.
  const started = await app.gql(START_CRAWL, { input: { url: site.url, maxPages: 3 } }, as('ci'));
  expect(started.errors).toBeUndefined();
  knownId = started.data!.startCrawl.id;
  const watch = collect<EventPayload>(wsClient({ authorization: bearer('reader') }), JOB_PROGRESS, { id: knownId }, 'jobProgress');
  await watch.done;
  baseline = await snapshot();
  expect(baseline).toEqual([expect.objectContaining({ id: knownId, status: 'SUCCEEDED', createdBy: 'ci', cancelledBy: null })]);
  requestsAtBaseline = site.requestCount();
});

afterAll(async () => {
  await Promise.all(clients.map((c) => c.dispose()));
  await app.stop();
  await site.close();
});

const QUERY = `{ activeExecutions { id } }`;
const START = `mutation { startCrawl(input: { url: "http://127.0.0.1:1/" }) { id } }`;
const CANCEL_KNOWN = () => `mutation { cancelExecution(id: "${knownId}", reason: "hostile") { accepted } }`;
const CANCEL_ALL = `mutation { cancelExecutions(reason: "hostile") { cancelled } }`;

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

describe('GraphQL hardening over HTTP', () => {
  const deep = `{ ${'a { '.repeat(15)}b${' }'.repeat(15)} }`;
  const cases: [string, string, Record<string, string>, number, RegExp | string][] = [
    ['15 levels of nesting', JSON.stringify({ query: deep }), {}, 400, 'QUERY_TOO_COMPLEX'],
    ['25 aliases', JSON.stringify({ query: `{ ${Array.from({ length: 25 }, (_, i) => `a${i}: activeExecutions { id }`).join(' ')} }` }), {}, 400, 'QUERY_TOO_COMPLEX'],
    // (b: not the document the WebSocket test sends, whose parse error Yoga caches without its HTTP status)
    ['1000 aliases', JSON.stringify({ query: `{ ${Array.from({ length: 1000 }, (_, i) => `b${i}: activeExecutions { id }`).join(' ')} }` }), {}, 400, /Token limit/],
    ['1000 aliased startCrawls', JSON.stringify({ query: `mutation { ${Array.from({ length: 1000 }, (_, i) => `a${i}: startCrawl(input: { url: "http://x/" }) { id }`).join(' ')} }` }), {}, 400, /Token limit/],
    ['60 directives', JSON.stringify({ query: `{ __typename ${'@include(if: true) '.repeat(60)}}` }), {}, 400, 'QUERY_TOO_COMPLEX'],
    ['2000 duplicate fields', JSON.stringify({ query: `{ executions { ${'id '.repeat(1900)}} }` }), {}, 400, /Validation aborted|limit/],
    ['10000 levels of nesting', JSON.stringify({ query: `{ ${'a { '.repeat(10_000)} }` }), {}, 400, /Token limit/],
    ['a 200 KB document', JSON.stringify({ query: `{ __typename } # ${'x'.repeat(200_000)}` }), {}, 413, 'PAYLOAD_TOO_LARGE'],
    ['200 KB of variables', JSON.stringify({ query: QUERY, variables: { pad: 'x'.repeat(200_000) } }), {}, 413, 'PAYLOAD_TOO_LARGE'],
    ['a batch of 100 operations', JSON.stringify(Array.from({ length: 100 }, () => ({ query: START }))), {}, 400, /Batching is not supported/],
    ['invalid JSON', '{"query": ', {}, 400, /invalid JSON/],
    ['JSON that is not an object', '"{ __typename }"', {}, 400, /.+/],
    ['no query at all', JSON.stringify({ variables: {} }), {}, 400, /query/i],
    ['a query that is not a string', JSON.stringify({ query: { evil: true } }), {}, 400, /.+/],
    ['variables that are not an object', JSON.stringify({ query: QUERY, variables: 'x' }), {}, 400, /.+/],
    ['text/plain (a CSRF "simple" request)', JSON.stringify({ query: START }), { 'content-type': 'text/plain' }, 403, /CSRF/],
    ['a form post (a CSRF "simple" request)', `query=${encodeURIComponent(START)}`, { 'content-type': 'application/x-www-form-urlencoded' }, 403, /CSRF/],
    ['multipart (a CSRF "simple" request)', '--b\r\nContent-Disposition: form-data; name="operations"\r\n\r\n{}\r\n--b--', { 'content-type': 'multipart/form-data; boundary=b' }, 403, /CSRF/],
    ['application/xml', '<query/>', { 'content-type': 'application/xml' }, 415, ''],
    ['a page on another site (Origin)', JSON.stringify({ query: START }), { origin: 'https://evil.example' }, 403, /not allowed/],
  ];
  it.each(cases)('%s', async (_name, body, headers, status, expected) => {
    const res = await post(body, { accept: 'application/graphql-response+json', ...as('admin'), ...headers });
    expect(res.status).toBe(status);
    const text = await res.text();
    if (expected) expect(text).toMatch(expected);
    await expectUnharmed();
  });

  it('a GET without the CSRF header is refused; with it (or JSON POST) it works; mutations never run over GET', async () => {
    const url = `${app.url}/graphql?query=${encodeURIComponent(QUERY)}`;
    expect((await fetch(url, { headers: as('admin') })).status).toBe(403);
    expect((await fetch(url, { headers: { ...as('admin'), 'x-graphql-yoga-csrf': '1' } })).status).toBe(200);
    const mutation = `${app.url}/graphql?query=${encodeURIComponent(CANCEL_ALL)}`;
    expect((await fetch(mutation, { headers: { ...as('admin'), 'x-graphql-yoga-csrf': '1' } })).status).toBe(405);
    await expectUnharmed();
  });

  it('a chunked body of unknown length is refused with 411', async () => {
    const status = await new Promise<number>((resolve, reject) => {
      const req = httpRequest(`${app.url}/graphql`, { method: 'POST', headers: { 'content-type': 'application/json', ...as('admin') } }, (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      });
      req.on('error', reject);
      req.write(JSON.stringify({ query: QUERY }));
      req.end();
    });
    expect(status).toBe(411);
    await expectUnharmed();
  });

  it('CORS headers go to the page Sluice serves and local dev servers only', async () => {
    const preflight = (origin: string) =>
      fetch(`${app.url}/graphql`, { method: 'OPTIONS', headers: { origin, 'access-control-request-method': 'POST', 'access-control-request-headers': 'authorization,content-type' } });
    expect((await preflight('https://evil.example')).headers.get('access-control-allow-origin')).toBeNull();
    const local = await preflight('http://localhost:5173');
    expect(local.headers.get('access-control-allow-origin')).toBe('http://localhost:5173');
    expect(local.headers.get('access-control-allow-credentials')).toBeNull();
  });

  it('subscriptions over HTTP (SSE, as GraphiQL sends them with tokens) meet the same checks', async () => {
    const sse = (headers: Record<string, string>) =>
      post(JSON.stringify({ query: JOB_PROGRESS, variables: { id: knownId } }), { accept: 'text/event-stream', ...headers });
    const ok = await sse(as('reader'));
    expect(ok.status).toBe(200);
    const stream = await ok.text(); // the execution has ended, so the replay completes the stream
    expect(stream).toContain('event: next');
    expect(stream).toContain('"status":"SUCCEEDED"');
    expect((await sse({})).status).toBe(401);
    const forbidden = await (await sse(as('runner'))).text();
    expect(forbidden).toMatch(/"code":"FORBIDDEN"/);
    await expectUnharmed();
  });

  it('GraphiQL (the page) loads without a token and asks for one in its headers tab', async () => {
    const res = await fetch(`${app.url}/graphql`, { headers: { accept: 'text/html' } });
    expect(res.status).toBe(200);
    const html = await res.text();
    expect(html).toContain('GraphiQL');
    expect(html).toContain('your token');
  });

  it('internal errors are masked over HTTP and WebSocket, and logged instead', async () => {
    const store = app.app.store;
    const original = store.listExecutions.bind(store);
    store.listExecutions = () => Promise.reject(new Error('SQLITE_CORRUPT at /secret/path/sluice.db'));
    try {
      const res = await app.gql(QUERY, undefined, as('admin'));
      expect(res.errors?.[0]?.message).toBe('Unexpected error.');
      expect(JSON.stringify(res)).not.toContain('secret');
      const overWs = await wsOnce(wsClient({ authorization: bearer('admin') }), QUERY);
      expect(overWs.errors?.[0]?.message).toBe('Unexpected error.');
      expect(JSON.stringify(overWs)).not.toContain('secret');
    } finally {
      store.listExecutions = original;
    }
    await expectUnharmed();
  });
});

describe('rate limit on starting work', () => {
  const refusedStart = (alias = 's') => `${alias}: startCrawl(input: { url: "ftp://refused.example/" }) { id }`;

  it(`allows ${RATE} starts a minute per token, then RATE_LIMITED with a retry hint (429, Retry-After)`, async () => {
    for (let i = 0; i < RATE; i++) {
      const res = await app.gql(`mutation { ${refusedStart()} }`, undefined, as('burst'));
      expect(res.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
    }
    const res = await post(JSON.stringify({ query: `mutation { ${refusedStart()} }` }), as('burst'));
    expect(res.status).toBe(429);
    expect(Number(res.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    const body = (await res.json()) as GqlResult;
    expect(body.errors?.[0]?.extensions).toMatchObject({ code: 'RATE_LIMITED', retryAfterSeconds: expect.any(Number) });
    // another token has its own bucket; reads are not limited
    expect((await app.gql(`mutation { ${refusedStart()} }`, undefined, as('runner'))).errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
    expect((await app.gql(QUERY, undefined, as('ci'))).errors).toBeUndefined();
    await expectUnharmed();
  });

  it('aliases count one each: an operation starting more than the limit is refused whole', async () => {
    const many = Array.from({ length: RATE + 1 }, (_, i) => refusedStart(`a${i}`)).join(' ');
    const res = await app.gql(`mutation { ${many} }`, undefined, as('ci'));
    expect(res.errors?.[0]?.extensions?.code).toBe('RATE_LIMITED');
    expect(res.data ?? null).toBeNull();
    await expectUnharmed();
  });

  it('the same limit applies over graphql-ws', async () => {
    const client = wsClient({ authorization: bearer('burst-ws') });
    for (let i = 0; i < RATE; i++) expect((await wsOnce(client, `mutation { ${refusedStart()} }`)).errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
    const res = await wsOnce(client, `mutation { ${refusedStart()} }`);
    expect(res.errors?.[0]?.extensions).toMatchObject({ code: 'RATE_LIMITED', retryAfterSeconds: expect.any(Number) });
    await expectUnharmed();
  });
});

describe('audit: who started and who cancelled', () => {
  it('records the token names over HTTP and over graphql-ws', async () => {
    const slow = await startSite({ pages: 5, delayMs: 60_000 });
    const audit = await startTestApp({ apiTokens: TOKENS });
    try {
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
    } finally {
      await audit.stop();
      await slow.close();
    }
  });
});

describe('open to local callers only', () => {
  let local: TestApp;
  beforeAll(async () => {
    local = await startTestApp();
  });
  afterAll(() => local.stop());

  it('without tokens a loopback server is open, and records "local"', async () => {
    const res = await local.gql(`{ activeExecutions { id } }`);
    expect(res.data).toEqual({ activeExecutions: [] });
  });

  it('refuses requests addressed to another name (DNS rebinding) and pages of other sites', async () => {
    const port = new URL(local.url).port;
    const send = (headers: Record<string, string>) =>
      new Promise<number>((resolve, reject) => {
        const body = JSON.stringify({ query: `mutation { startCrawl(input: { url: "ftp://refused.example/" }) { id } }` });
        const req = httpRequest({ host: '127.0.0.1', port, path: '/graphql', method: 'POST', headers: { 'content-type': 'application/json', 'content-length': String(body.length), ...headers } }, (res) => {
          res.resume();
          resolve(res.statusCode ?? 0);
        });
        req.on('error', reject);
        req.end(body);
      });
    expect(await send({ host: `attacker.example:${port}` })).toBe(403);
    expect(await send({ host: `127.0.0.1:${port}`, origin: 'https://attacker.example' })).toBe(403);
    expect(await send({ host: `localhost:${port}`, origin: `http://localhost:${port}` })).toBe(200);
    const executions = await local.gql(`{ executions { id } }`);
    expect(executions.data).toEqual({ executions: [] });
  });

  it('refuses WebSocket upgrades addressed to another name', async () => {
    const status = await new Promise<number>((resolve, reject) => {
      const socket = new WebSocket(`${local.url.replace('http', 'ws')}/graphql`, 'graphql-transport-ws', { headers: { host: 'attacker.example' } });
      socket.on('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0));
      socket.on('open', () => reject(new Error('opened')));
      socket.on('error', () => undefined);
    });
    expect(status).toBe(403);
  });

  it.each(['0.0.0.0', '::', '192.0.2.10'])('refuses to start on HOST=%s without tokens, saying how to configure them', (host) => {
    const dir = tempDir();
    try {
      expect(() => createApp({ host, dataDir: dir.path, logLevel: 'silent' })).toThrow(/SLUICE_API_TOKENS.*openssl rand/);
    } finally {
      dir.remove();
    }
  });
});

// No test can reach the internet, so a loopback address plays the public web server: 127.0.0.2
// counts as public here (the only change to the rules), names resolve through a table, and
// 127.0.0.1 plays the private network behind Sluice. Everything else is the real crawl: real
// sockets, the real guarded lookup, redirects, robots.txt, sitemaps and llms.txt.
describe('crawls connect only to public addresses, on every hop and every file', () => {
  const PUBLIC_IP = '127.0.0.2';
  let internal: Site;
  let publicSite: Site;
  let resolutions: Record<string, string[][]>;
  const rules: AddressRules = {
    resolve: async (hostname) => {
      const answers = resolutions[hostname];
      if (!answers?.length) throw Object.assign(new Error(`getaddrinfo ENOTFOUND ${hostname}`), { code: 'ENOTFOUND' });
      const ips = answers.length > 1 ? answers.shift()! : answers[0]!; // the last answer repeats
      return ips.map((address) => ({ address, family: 4 }));
    },
    isDisallowed: (ip) => ip !== PUBLIC_IP && isDisallowedAddress(ip),
  };
  const crawl = async (url: string, includePatterns?: string[]) => {
    const input = parseCrawlInput({ url, maxPages: 20, includePatterns }, { ...DEFAULT_CRAWL_LIMITS, retryBaseDelayMs: 1 });
    const t = createTestContext(input, { allowPrivateNetworks: false, addressRules: rules });
    const outcome = await runCrawl(t).then(
      (result) => ({ result, error: null }),
      (error: Error) => ({ result: null, error }),
    );
    return { ...outcome, logs: t.logs, pages: t.pages };
  };

  beforeAll(async () => {
    internal = await startSite({ pages: 2, routes: { '/secret': { body: 'internal secret' } } });
    const inside = new URL(internal.url).port;
    publicSite = await startSite({
      host: PUBLIC_IP,
      pages: 2,
      redirects: {
        '/to-literal': `http://127.0.0.1:${inside}/secret`,
        '/to-name': `http://internal.sluice.test:${inside}/secret`,
        '/to-localhost': `http://localhost:${inside}/secret`,
        '/to-sub-localhost': `http://app.localhost:${inside}/secret`,
        '/to-mapped': `http://[::ffff:127.0.0.1]:${inside}/secret`,
        '/to-decimal': `http://2130706433:${inside}/secret`,
        '/to-hex': `http://0x7f000001:${inside}/secret`,
        '/to-metadata': 'http://169.254.169.254/latest/meta-data/',
      },
      robotsTxt: `User-agent: *\nAllow: /\nSitemap: http://127.0.0.1:${inside}/sitemap.xml\nSitemap: http://internal.sluice.test:${inside}/sitemap.xml\n`,
      llmsTxt: `# Links\n- [secret](http://127.0.0.1:${inside}/secret)\n- [named](http://internal.sluice.test:${inside}/secret)\n`,
    });
  });
  beforeEach(() => {
    resolutions = { 'public.sluice.test': [[PUBLIC_IP]], 'internal.sluice.test': [['127.0.0.1']], localhost: [['127.0.0.1']], 'localhost.': [['127.0.0.1']] };
  });
  afterAll(async () => {
    await publicSite.close();
    await internal.close();
  });

  const publicUrl = (path: string) => `http://public.sluice.test:${new URL(publicSite.url).port}${path}`;

  it('crawls the public site; robots.txt sitemaps and llms.txt links to private addresses are refused unread', async () => {
    const { result, error, logs } = await crawl(publicUrl('/'));
    expect(error).toBeNull();
    expect(result?.pagesFetched).toBe(2);
    expect(publicSite.requests).toEqual(expect.arrayContaining(['/robots.txt', '/llms.txt', '/', '/page/1']));
    expect(internal.requestCount()).toBe(0);
    expect(logs.join('\n')).not.toContain('internal secret');
  });

  it.each(['/to-literal', '/to-name', '/to-localhost', '/to-sub-localhost', '/to-mapped', '/to-decimal', '/to-hex', '/to-metadata'])(
    'a start URL redirecting %s to a private address fails saying why, and the target gets no request',
    async (path) => {
      const { error } = await crawl(publicUrl(path));
      expect(error?.message).toMatch(/refused to crawl .*(loopback|link-local) address.*SLUICE_ALLOW_PRIVATE_NETWORKS=true/);
      expect(publicSite.requests).toContain(path);
      expect(internal.requestCount()).toBe(0);
    },
  );

  it('links and later redirects to private addresses, in scope on any host, are skipped with a LOG saying why', async () => {
    const inside = new URL(internal.url).port;
    const hop = await startSite({
      host: PUBLIC_IP,
      pages: 1,
      homeLinks: ['/hop', `http://127.0.0.1:${inside}/secret`, `http://internal.sluice.test:${inside}/page/1`],
      redirects: { '/hop': `http://[::ffff:7f00:1]:${inside}/secret` },
    });
    try {
      resolutions['hop.sluice.test'] = [[PUBLIC_IP]];
      // "/**" puts every host in scope, so only the address rule stands between the crawl and 127.0.0.1
      const { result, logs } = await crawl(`http://hop.sluice.test:${new URL(hop.url).port}/`, ['/**']);
      expect(result).toMatchObject({ pagesFetched: 1, pagesSkipped: 3 });
      const refusals = logs.filter((l) => l.startsWith('skipped') && /refused to crawl .*loopback address/.test(l));
      expect(refusals).toHaveLength(3);
      expect(logs.find((l) => l.includes('/hop'))).toMatch(/\/hop: refused to crawl ::ffff:7f00:1: it is a loopback address/);
      expect(internal.requestCount()).toBe(0);
    } finally {
      await hop.close();
    }
  });

  it('DNS rebinding: a name that was public at the API check and private at connect time is refused at connect', async () => {
    const port = Number(new URL(publicSite.url).port);
    // the private target listens on the same port as the public site, so a connection there would land
    const target = await startSite({ port, pages: 1 });
    try {
      resolutions['rebind.sluice.test'] = [[PUBLIC_IP], ['127.0.0.1']];
      const { error } = await crawl(`http://rebind.sluice.test:${port}/`);
      expect(error?.message).toMatch(/refused to crawl rebind\.sluice\.test \(127\.0\.0\.1\)/);
      expect(target.requestCount()).toBe(0);
    } finally {
      await target.close();
    }
  });

  it('a name with both public and private addresses is only ever connected to its public one', async () => {
    const port = Number(new URL(publicSite.url).port);
    const target = await startSite({ port, pages: 1 });
    try {
      resolutions['mixed.sluice.test'] = [['127.0.0.1', PUBLIC_IP]];
      const { result } = await crawl(`http://mixed.sluice.test:${port}/`);
      expect(result?.pagesFetched).toBe(2);
      expect(target.requestCount()).toBe(0);
    } finally {
      await target.close();
    }
  });
});
