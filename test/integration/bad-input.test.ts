import { beforeAll, describe, expect, it } from 'vitest';
import type { Site } from '../fixtures/site.ts';
import { collect, JOB_PROGRESS, START_CRAWL, type TestApp } from '../helpers/app.ts';
import { suiteResources } from '../helpers/suite-resources.ts';

const resources = suiteResources();
let app: TestApp;
let site: Site;
beforeAll(async () => {
  site = await resources.site({ pages: 2 });
  // no rate limit: this file starts more refused crawls than a minute allows (the limit has its own tests)
  app = await resources.app({ allowPrivateNetworks: false, startRateLimitPerMinute: 0 });
});

const crawlCases: [string, Record<string, unknown>, string, RegExp][] = [
  ['a wrong scheme', { url: 'ftp://example.com/' }, 'url', /http:\/\/ or https:\/\//],
  ['a javascript: URL', { url: 'javascript:alert(1)' }, 'url', /http:\/\/ or https:\/\//],
  ['a file: URL', { url: 'file:///etc/passwd' }, 'url', /http:\/\/ or https:\/\//],
  ['an empty URL', { url: '   ' }, 'url', /required/],
  ['a URL that is not one', { url: 'http://' }, 'url', /not a valid/],
  ['an absurdly long URL', { url: `https://example.com/${'a'.repeat(5000)}` }, 'url', /too long/],
  ['credentials in the URL', { url: 'https://user:pass@example.com/' }, 'url', /user name or password/],
  ['maxPages zero', { url: 'https://example.com/', maxPages: 0 }, 'maxPages', /between 1 and 10000/],
  ['maxPages negative', { url: 'https://example.com/', maxPages: -5 }, 'maxPages', /between 1 and 10000/],
  ['maxPages absurdly large', { url: 'https://example.com/', maxPages: 2_000_000_000 }, 'maxPages', /between 1 and 10000/],
  ['maxDepth negative', { url: 'https://example.com/', maxDepth: -1 }, 'maxDepth', /between 0 and 20/],
  ['maxDepth absurdly large', { url: 'https://example.com/', maxDepth: 1000 }, 'maxDepth', /between 0 and 20/],
  ['an empty pattern', { url: 'https://example.com/', includePatterns: [''] }, 'includePatterns', /empty/],
  ['too many patterns', { url: 'https://example.com/', excludePatterns: Array.from({ length: 51 }, (_, i) => `/x${i}/**`) }, 'excludePatterns', /at most 50/],
  ['a loopback address (private networks refused)', { url: 'http://127.0.0.1:1/' }, 'url', /SLUICE_ALLOW_PRIVATE_NETWORKS/],
  ['the cloud metadata address', { url: 'http://169.254.169.254/latest/meta-data/' }, 'url', /SLUICE_ALLOW_PRIVATE_NETWORKS/],
  ['localhost by name', { url: 'http://localhost:8080/' }, 'url', /SLUICE_ALLOW_PRIVATE_NETWORKS/],
  ['loopback in decimal notation', { url: 'http://2130706433/' }, 'url', /SLUICE_ALLOW_PRIVATE_NETWORKS/],
  ['IPv4-mapped IPv6 loopback', { url: 'http://[::ffff:127.0.0.1]/' }, 'url', /SLUICE_ALLOW_PRIVATE_NETWORKS/],
  ['a private network address', { url: 'http://10.0.0.1/' }, 'url', /SLUICE_ALLOW_PRIVATE_NETWORKS/],
  ['loopback as 0x7f.1 (private networks refused)', { url: 'http://0x7f.1/' }, 'url', /SLUICE_ALLOW_PRIVATE_NETWORKS/],
  ['loopback in octal (private networks refused)', { url: 'http://0177.0.0.1/' }, 'url', /SLUICE_ALLOW_PRIVATE_NETWORKS/],
  ['loopback as 127.1 (private networks refused)', { url: 'http://127.1/' }, 'url', /SLUICE_ALLOW_PRIVATE_NETWORKS/],
  ['loopback in hex (private networks refused)', { url: 'http://0x7f000001/' }, 'url', /SLUICE_ALLOW_PRIVATE_NETWORKS/],
  ['loopback in full-width digits (private networks refused)', { url: 'http://１２７.０.０.１/' }, 'url', /SLUICE_ALLOW_PRIVATE_NETWORKS/],
  ['IPv6 loopback (private networks refused)', { url: 'http://[::1]/' }, 'url', /SLUICE_ALLOW_PRIVATE_NETWORKS/],
  ['IPv4-mapped IPv6 loopback in hex (private networks refused)', { url: 'http://[::ffff:7f00:1]/' }, 'url', /SLUICE_ALLOW_PRIVATE_NETWORKS/],
  ['NAT64 loopback (private networks refused)', { url: 'http://[64:ff9b::7f00:1]/' }, 'url', /SLUICE_ALLOW_PRIVATE_NETWORKS/],
  ['6to4 loopback (private networks refused)', { url: 'http://[2002:7f00:1::1]/' }, 'url', /SLUICE_ALLOW_PRIVATE_NETWORKS/],
  ['the unspecified address (private networks refused)', { url: 'http://0.0.0.0:8080/' }, 'url', /SLUICE_ALLOW_PRIVATE_NETWORKS/],
  ['the unspecified address as 0 (private networks refused)', { url: 'http://0/' }, 'url', /SLUICE_ALLOW_PRIVATE_NETWORKS/],
  ['the IPv6 unspecified address (private networks refused)', { url: 'http://[::]/' }, 'url', /SLUICE_ALLOW_PRIVATE_NETWORKS/],
  ['CGNAT space (private networks refused)', { url: 'http://100.64.12.34/' }, 'url', /SLUICE_ALLOW_PRIVATE_NETWORKS/],
  ['192.168/16 (private networks refused)', { url: 'http://192.168.1.1/' }, 'url', /SLUICE_ALLOW_PRIVATE_NETWORKS/],
  ['172.16/12 (private networks refused)', { url: 'http://172.31.255.1/' }, 'url', /SLUICE_ALLOW_PRIVATE_NETWORKS/],
  ['unique-local IPv6 (private networks refused)', { url: 'http://[fc00::1]/' }, 'url', /SLUICE_ALLOW_PRIVATE_NETWORKS/],
  ['link-local IPv6 (private networks refused)', { url: 'http://[fe80::1]/' }, 'url', /SLUICE_ALLOW_PRIVATE_NETWORKS/],
  ['multicast (private networks refused)', { url: 'http://224.0.0.1/' }, 'url', /SLUICE_ALLOW_PRIVATE_NETWORKS/],
  ['broadcast (private networks refused)', { url: 'http://255.255.255.255/' }, 'url', /SLUICE_ALLOW_PRIVATE_NETWORKS/],
  ['documentation space (private networks refused)', { url: 'http://192.0.2.1/' }, 'url', /SLUICE_ALLOW_PRIVATE_NETWORKS/],
  ['localhost with a trailing dot (private networks refused)', { url: 'http://localhost./' }, 'url', /SLUICE_ALLOW_PRIVATE_NETWORKS/],
  ['a name under .localhost (private networks refused)', { url: 'http://x.localhost/' }, 'url', /SLUICE_ALLOW_PRIVATE_NETWORKS/],
  ['LOCALHOST in capitals (private networks refused)', { url: 'http://LOCALHOST:4000/' }, 'url', /SLUICE_ALLOW_PRIVATE_NETWORKS/],
  ['a gopher: URL', { url: 'gopher://example.com/' }, 'url', /http:\/\/ or https:\/\//],
  ['a data: URL', { url: 'data:text/html,<script>alert(1)</script>' }, 'url', /http:\/\/ or https:\/\//],
  ['a ws: URL', { url: 'ws://example.com/' }, 'url', /http:\/\/ or https:\/\//],
  ['backslashes for slashes', { url: 'http:\\\\127.0.0.1\\' }, 'url', /http:\/\/ or https:\/\//],
  ['credentials hiding the host', { url: 'http://example.com@127.0.0.1/' }, 'url', /user name or password/],
  ['a sessionId of 201 characters', { url: 'https://example.com/', sessionId: 's'.repeat(201) }, 'sessionId', /at most 200/],
  ['a pattern of 501 characters', { url: 'https://example.com/', includePatterns: [`/${'a'.repeat(500)}`] }, 'includePatterns', /at most 500/],
];

describe('bad input gets a clear error and harms nothing', () => {
  it.each(crawlCases)('startCrawl with %s: BAD_USER_INPUT naming the field', async (_name, input, field, message) => {
    const res = await app.gql(START_CRAWL, { input });
    expect(res.data).toBeNull();
    expect(res.errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', field });
    expect(res.errors?.[0]?.message).toMatch(message);
  });

  it('refused crawls stored nothing and made no request', async () => {
    const res = await app.gql(`{ executions { id } activeExecutions { id } }`);
    expect(res.data).toEqual({ executions: [], activeExecutions: [] });
    expect(site.requestCount()).toBe(0);
  });

  it('unknown and hostile ids: NOT_FOUND, null, or BAD_USER_INPUT, never a crash', async () => {
    const cancel = await app.gql(`mutation { cancelExecution(id: "does-not-exist") { accepted } }`);
    expect(cancel.errors?.[0]?.extensions?.code).toBe('NOT_FOUND');
    const sql = await app.gql(`mutation { cancelExecution(id: "' OR 1=1; DROP TABLE executions; --") { accepted } }`);
    expect(sql.errors?.[0]?.extensions?.code).toBe('NOT_FOUND');
    const long = await app.gql(`query ($id: ID!) { execution(id: $id) { id } }`, { id: 'x'.repeat(10_000) });
    expect(long.errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'id' });
    const missing = await app.gql(`{ execution(id: "nope") { id } }`);
    expect(missing).toMatchObject({ data: { execution: null } });
    const limit = await app.gql(`{ executions(limit: 0) { id } }`);
    expect(limit.errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'limit' });
    const reason = await app.gql(`mutation ($r: String) { cancelExecutions(reason: $r) { cancelled } }`, { r: 'r'.repeat(5000) });
    expect(reason.errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'reason' });
  });

  it('hostile strings in searches, ids and chat texts are data, never code: no internal error, nothing stored', async () => {
    const before = await app.gql(`{ executions { id } }`);
    const searches = ['" OR 1=1 --', 'NEAR(a b, 2)', '*', 'a AND OR NOT', '"unterminated', '\u0000', '%_%', "'; DROP TABLE pages; --", '\u202Egnp.exe', 'x'.repeat(5000)];
    for (const q of searches) {
      const res = await app.gql(`query ($q: String!) { searchKnowledge(query: $q) { url } }`, { q });
      if (res.errors) expect(res.errors[0]!.extensions, q).toMatchObject({ code: 'BAD_USER_INPUT' });
      else expect(res.data, q).toEqual({ searchKnowledge: [] });
    }
    for (const id of ['../../etc/passwd', '\u0000', '\u202Eevil', '1; DROP TABLE executions', '🦀'.repeat(50)]) {
      const res = await app.gql(`query ($id: ID!) { execution(id: $id) { id } chatSession(id: $id) { id } }`, { id });
      expect(res.data, id).toEqual({ execution: null, chatSession: null });
    }
    for (const t of ['', '   ', 'x'.repeat(60_000)]) {
      const res = await app.gql(`mutation ($t: String!) { sendChatMessage(input: { text: $t }) { id } }`, { t });
      expect(res.errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'text' });
    }
    const wrongType = await app.gql(START_CRAWL, { input: { url: 'https://example.com/', maxPages: 1.5, maxDepth: '2' } });
    expect(wrongType.errors?.[0]?.message).toMatch(/Int cannot represent/);
    expect(await app.gql(`{ executions { id } }`)).toEqual(before);
    expect((await fetch(`${app.url}/health`)).status).toBe(200);
    expect(site.requestCount()).toBe(0);
  });

  it('jobProgress for an unknown id errors with NOT_FOUND over graphql-ws', async () => {
    const sub = collect(app.ws(), JOB_PROGRESS, { id: 'unknown-id' }, 'jobProgress');
    await expect(sub.done).rejects.toMatchObject({ errors: [{ extensions: { code: 'NOT_FOUND' } }] });
    const negative = collect(app.ws(), JOB_PROGRESS, { id: 'unknown-id', after: -1 }, 'jobProgress');
    await expect(negative.done).rejects.toMatchObject({ errors: [{ extensions: { code: 'BAD_USER_INPUT' } }] });
  });

  it('malformed GraphQL is a 400 with a message, and the server stays healthy', async () => {
    const res = await fetch(`${app.url}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/graphql-response+json' },
      body: JSON.stringify({ query: '{ activeExecutions { id ' }) });
    expect(res.status).toBe(400);
    const body = (await res.json()) as { errors: { message: string }[] };
    expect(body.errors[0]!.message).toMatch(/Syntax Error/);
    const notJson = await fetch(`${app.url}/graphql`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"query": ' });
    expect(notJson.status).toBe(400);
    const health = await fetch(`${app.url}/health`);
    expect(health.status).toBe(200);
  });
});
