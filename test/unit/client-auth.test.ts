// The client's API tokens against the real server with SLUICE_API_TOKENS configured: the auth store
// (sessionStorage), the connection store's sign-in (checked with the server, then a new socket), and
// the executions store starting over with the token.
import { beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createPinia, setActivePinia } from 'pinia';
import type { Site } from '../fixtures/site.ts';
import type { TestApp } from '../helpers/app.ts';
import { TOKEN_STORAGE_KEY, useAuthStore } from '../../client/stores/auth.ts';
import { useCrawlStore } from '../../client/stores/crawl.ts';
import { deferCleanup } from '../helpers/cleanup.ts';
import { storesForTest, until } from '../helpers/client-helpers.ts';
import { suiteResources } from '../helpers/suite-resources.ts';

const UI = { name: 'ui', token: 'ui-token-0123456789abcdef', scopes: ['admin' as const] };
const VIEWER = { name: 'viewer', token: 'viewer-token-0123456789ab', scopes: ['read' as const] };

/** A sessionStorage for Node, as the browser's, removed after the current test. */
function installSessionStorage(): Map<string, string> {
  const data = new Map<string, string>();
  const storage = {
    getItem: (key: string) => data.get(key) ?? null,
    setItem: (key: string, value: string) => void data.set(key, String(value)),
    removeItem: (key: string) => void data.delete(key),
    clear: () => data.clear(),
    key: (index: number) => [...data.keys()][index] ?? null,
    get length() {
      return data.size;
    },
  };
  (globalThis as { sessionStorage?: unknown }).sessionStorage = storage;
  deferCleanup(() => delete (globalThis as { sessionStorage?: unknown }).sessionStorage);
  return data;
}

describe('auth store', () => {
  beforeEach(() => setActivePinia(createPinia()));

  it('keeps the token in sessionStorage and forgets it on sign-out', () => {
    const storage = installSessionStorage();
    const auth = useAuthStore();
    expect(auth.signedIn).toBe(false);
    expect(auth.authorization()).toBeUndefined();
    auth.accept('abc-0123456789abcdef');
    expect(auth.authorization()).toBe('Bearer abc-0123456789abcdef');
    expect(storage.get(TOKEN_STORAGE_KEY)).toBe('abc-0123456789abcdef');
    // A new page of the same tab session reads it back.
    setActivePinia(createPinia());
    expect(useAuthStore().token).toBe('abc-0123456789abcdef');
    useAuthStore().signOut();
    expect(storage.has(TOKEN_STORAGE_KEY)).toBe(false);
  });

  it('a refusal of the current token drops it and says why; a late refusal of an older request does not', () => {
    installSessionStorage();
    const auth = useAuthStore();
    auth.demand('this API needs a token', undefined);
    expect(auth.prompting).toBe(true);
    expect(auth.refusal).toBeNull(); // asked, not refused
    auth.accept('good-0123456789abcdef');
    expect(auth.prompting).toBe(false);
    // The answer to a request sent before the token was set arrives late: nothing changes.
    auth.demand('this API needs a token', undefined);
    expect(auth.prompting).toBe(false);
    expect(auth.signedIn).toBe(true);
    // The server refuses the token itself (e.g. it was removed from SLUICE_API_TOKENS).
    auth.demand('the token is not valid', 'Bearer good-0123456789abcdef');
    expect(auth.prompting).toBe(true);
    expect(auth.signedIn).toBe(false);
    expect(auth.refusal).toBe('the token is not valid');
  });

  it('works without sessionStorage (Node, or storage blocked)', () => {
    const auth = useAuthStore();
    auth.accept('abc-0123456789abcdef');
    expect(auth.authorization()).toBe('Bearer abc-0123456789abcdef');
  });
});

describe('with SLUICE_API_TOKENS', () => {
  const resources = suiteResources();
  let server: TestApp;
  let site: Site;
  let stores: ReturnType<typeof storesForTest>;

  beforeAll(async () => {
    site = await resources.site({ pages: 40, delayMs: 250 });
    server = await resources.app({ apiTokens: [UI, VIEWER] });
  });

  beforeEach(() => {
    installSessionStorage();
    stores = storesForTest(server);
  });

  it('asks for a token, refuses a wrong one, and starts over with the right one', async () => {
    const auth = useAuthStore();
    await stores.executions.start();
    // HTTP: 401 UNAUTHENTICATED; the socket (executionChanged) is closed with 4401 and not retried.
    expect(stores.executions.active.status).toBe('error');
    expect(stores.executions.active.error?.code).toBe('UNAUTHENTICATED');
    expect(auth.prompting).toBe(true);
    await until(() => stores.connection.state === 'unauthorized', 5_000, 'the 4401 close');

    expect(await stores.connection.signIn('wrong-token-0123456789')).toBe(false);
    expect(auth.refusal).toMatch(/not valid/);
    expect(auth.prompting).toBe(true);
    expect(auth.signedIn).toBe(false);

    expect(await stores.connection.signIn(UI.token)).toBe(true);
    expect(auth.prompting).toBe(false);
    expect(sessionStorage.getItem(TOKEN_STORAGE_KEY)).toBe(UI.token);
    // The executions store started over: activeExecutions answered, and the new socket is up.
    await until(() => stores.executions.active.status === 'ready', 5_000, 'activeExecutions');
    await until(() => stores.connection.state === 'online', 5_000, 'the socket');

    // Work runs with the token; its events arrive over the token's socket.
    const execution = await useCrawlStore().startCrawl({ url: `${site.url}/`, maxPages: 30, maxDepth: 3 });
    expect(execution).not.toBeNull();
    const id = execution!.id;
    stores.executions.watchLive(id); // as its card on screen does
    await until(() => (stores.executions.get(id)?.execution.progress.pagesFetched ?? 0) > 0, 15_000, 'progress events');

    // Signing in again gives a new socket: jobProgress resumes after the last seq seen, no line twice.
    const seen = stores.executions.get(id)!.eventSeq;
    expect(await stores.connection.signIn(UI.token)).toBe(true);
    await until(() => stores.executions.get(id)!.eventSeq > seen + 1, 15_000, 'events on the new socket');
    const seqs = stores.executions.get(id)!.logs.map((line) => line.seq);
    expect(new Set(seqs).size).toBe(seqs.length);
    expect(await stores.executions.cancel(id)).toBe(true);
    await until(() => stores.executions.get(id)?.execution.status === 'CANCELLED', 10_000, 'CANCELLED');
    expect(auth.prompting).toBe(false);
  });

  it('a token without the scope gets a toast naming it (once), and the action fails', async () => {
    expect(await stores.connection.signIn(VIEWER.token)).toBe(true);
    await stores.executions.start();
    expect(stores.executions.active.status).toBe('ready');
    const crawl = useCrawlStore();
    expect(await crawl.startCrawl({ url: `${site.url}/` })).toBeNull();
    expect(crawl.starting.error?.code).toBe('FORBIDDEN');
    expect(await crawl.startCrawl({ url: `${site.url}/` })).toBeNull();
    const toasts = stores.toasts.toasts.filter((toast) => toast.title === 'Your token lacks the "execute" scope');
    expect(toasts).toHaveLength(1);
    expect(toasts[0]!.message).toContain('startCrawl');

    // Stop of a crawl someone else started: the scope toast, not a second "Could not stop" one.
    const response = await fetch(`${server.url}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${UI.token}` },
      body: JSON.stringify({ query: `mutation { startCrawl(input: { url: "${site.url}/", maxPages: 30, maxDepth: 3 }) { id } }` }),
    });
    const id = ((await response.json()) as any).data.startCrawl.id as string;
    await until(() => stores.executions.get(id) !== undefined, 5_000, 'executionChanged');
    expect(await stores.executions.cancel(id)).toBe(false);
    expect(stores.toasts.toasts.map((toast) => toast.title)).toContain('Your token lacks the "cancel" scope');
    expect(stores.toasts.toasts.map((toast) => toast.title)).not.toContain('Could not stop');
    expect(stores.executions.get(id)!.stopping).toBe(false);
    await fetch(`${server.url}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${UI.token}` },
      body: JSON.stringify({ query: `mutation { cancelExecution(id: "${id}") { accepted } }` }),
    });
  });

  it('sign-out forgets the token and the server asks again', async () => {
    const auth = useAuthStore();
    expect(await stores.connection.signIn(UI.token)).toBe(true);
    await stores.executions.start();
    expect(auth.prompting).toBe(false);
    await stores.connection.signOut();
    expect(sessionStorage.getItem(TOKEN_STORAGE_KEY)).toBeNull();
    await until(() => auth.prompting, 5_000, 'the dialog');
    expect(auth.refusal).toBeNull();
  });
});
