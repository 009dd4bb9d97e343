// The server the security suites attack: tokens of every scope, a rate limit on starting work, and
// one finished execution (knownId) whose row every hostile request must leave exactly as it was.
import { createClient, type Client } from 'graphql-ws';
import { beforeAll, expect } from 'vitest';
import WebSocket from 'ws';
import type { ApiToken } from '../../server/security/tokens.ts';
import type { Site } from '../fixtures/site.ts';
import { collect, JOB_PROGRESS, START_CRAWL, type EventPayload, type GqlResult, type TestApp } from './app.ts';
import { suiteResources, type SuiteResources } from './suite-resources.ts';

export const TOKENS: ApiToken[] = [
  { name: 'admin', token: 'admin-token-0123456789abcdef', scopes: ['admin'] },
  { name: 'reader', token: 'reader-token-0123456789abcdef', scopes: ['read'] },
  { name: 'runner', token: 'runner-token-0123456789abcdef', scopes: ['execute'] },
  { name: 'stopper', token: 'stopper-token-0123456789abcdef', scopes: ['cancel'] },
  { name: 'ci', token: 'ci-token-0123456789abcdef', scopes: ['read', 'execute', 'cancel'] },
  { name: 'burst', token: 'burst-token-0123456789abcdef', scopes: ['execute'] },
  { name: 'burst-ws', token: 'burst-ws-token-0123456789abcdef', scopes: ['execute'] },
];
export const bearer = (name: string) => `Bearer ${TOKENS.find((t) => t.name === name)!.token}`;
export const as = (name: string) => ({ authorization: bearer(name) });
export const RATE = 5;

// Live bindings: set by securedAppSuite's beforeAll, read by its tests.
export let app: TestApp;
export let site: Site;
export let knownId: string;
let baseline: unknown;
let requestsAtBaseline: number;
let resources: SuiteResources;

/** Every stored execution with the fields a hostile request could change. */
export async function snapshot(): Promise<unknown> {
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
export async function expectUnharmed(): Promise<void> {
  expect((await fetch(`${app.url}/health`)).status).toBe(200);
  expect(site.requestCount()).toBe(requestsAtBaseline);
  expect(await snapshot()).toEqual(baseline);
}

/** A graphql-ws client of the secured app; disposed after the suite, before the app stops. */
export function wsClient(connectionParams?: Record<string, unknown>, extra: Partial<Parameters<typeof createClient>[0]> = {}): Client {
  const client = createClient({ url: `${app.url.replace('http', 'ws')}/graphql`, webSocketImpl: WebSocket, connectionParams, retryAttempts: 0, lazy: true, ...extra });
  resources.defer(() => client.dispose());
  return client;
}

/** The first result of an operation over graphql-ws; rejects with the close event or error messages. */
export function wsOnce(client: Client, query: string, variables?: Record<string, unknown>): Promise<GqlResult> {
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

/** A raw POST to /graphql. */
export function post(body: string, headers: Record<string, string> = {}): Promise<Response> {
  return fetch(`${app.url}/graphql`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body });
}

/**
 * Registers the file's beforeAll, which starts the secured app with its one finished execution, and
 * the afterAll (suiteResources) that closes the clients, the app and the site.
 */
export function securedAppSuite(): void {
  resources = suiteResources();
  beforeAll(startSecuredApp);
}

async function startSecuredApp(): Promise<void> {
  site = await resources.site({ pages: 3 });
  app = await resources.app({ apiTokens: TOKENS, startRateLimitPerMinute: RATE });
  // One finished execution whose row every hostile request below must leave untouched.
  const started = await app.gql(START_CRAWL, { input: { url: site.url, maxPages: 3 } }, as('ci'));
  expect(started.errors).toBeUndefined();
  knownId = started.data!.startCrawl.id;
  const watch = collect<EventPayload>(wsClient({ authorization: bearer('reader') }), JOB_PROGRESS, { id: knownId }, 'jobProgress');
  await watch.done;
  baseline = await snapshot();
  expect(baseline).toEqual([expect.objectContaining({ id: knownId, status: 'SUCCEEDED', createdBy: 'ci', cancelledBy: null })]);
  requestsAtBaseline = site.requestCount();
}

export const QUERY = `{ activeExecutions { id } }`;
export const START = `mutation { startCrawl(input: { url: "http://127.0.0.1:1/" }) { id } }`;
export const CANCEL_KNOWN = () => `mutation { cancelExecution(id: "${knownId}", reason: "hostile") { accepted } }`;
export const CANCEL_ALL = `mutation { cancelExecutions(reason: "hostile") { cancelled } }`;
