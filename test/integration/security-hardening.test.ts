// What hostile or broken GraphQL does to a running server, and the rate limit on starting work:
// every case asserts the error code, that no request reached a site, that /health still answers,
// and that the stored executions are exactly as they were.
import { request as httpRequest } from 'node:http';
import { describe, expect, it } from 'vitest';
import { JOB_PROGRESS, type GqlResult } from '../helpers/app.ts';
import {
  app,
  as,
  bearer,
  CANCEL_ALL,
  expectUnharmed,
  knownId,
  post,
  QUERY,
  RATE,
  START,
  securedAppSuite,
  wsClient,
  wsOnce,
} from '../helpers/secured-app.ts';

securedAppSuite();

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
