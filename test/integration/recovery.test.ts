import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { describe, expect, it } from 'vitest';
import { parseCrawlInput } from '../../server/jobs/crawl/input.ts';
import { SqliteStore } from '../../server/store/sqlite/sqlite-store.ts';
import { pagePath, type Site } from '../fixtures/site.ts';
import { deferCleanup, siteForTest } from '../helpers/cleanup.ts';
import { CANCEL, collect, JOB_PROGRESS, START_CRAWL, startTestApp, type EventPayload, type TestApp } from '../helpers/app.ts';
import { tempDir } from '../helpers/stores.ts';

const EXECUTION = `query ($id: ID!) { execution(id: $id) { status attempt error progress { pagesFetched pagesFailed } } }`;

async function app(dataDir: string, overrides = {}): Promise<TestApp> {
  const t = await startTestApp({ dataDir, ...overrides });
  deferCleanup(() => t.stop({ remove: false }));
  return t;
}

function data(): string {
  const dir = tempDir();
  deferCleanup(() => dir.remove());
  return dir.path;
}

/** Generated pages requested more than once. */
function refetched(s: Site, pages: number): string[] {
  const paths = new Set(Array.from({ length: pages }, (_, i) => pagePath(i)));
  const seen = new Map<string, number>();
  for (const p of s.requests) if (paths.has(p)) seen.set(p, (seen.get(p) ?? 0) + 1);
  return [...seen].filter(([, n]) => n > 1).map(([p]) => p);
}

/** Runs `npm start`'s server (server/main.ts) as a real child process; resolves with its URL. */
async function startChild(dataDir: string): Promise<{ child: ChildProcess; url: string }> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'server/main.ts'], {
    env: { ...process.env, PORT: '0', SLUICE_DATA_DIR: dataDir, SLUICE_ALLOW_PRIVATE_NETWORKS: 'true', LOG_LEVEL: 'info' },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  deferCleanup(() => {
    if (child.exitCode === null) child.kill('SIGKILL');
  });
  const lines = createInterface({ input: child.stdout! });
  for await (const line of lines) {
    const match = /listening on (http:\/\/[\d.:]+)/.exec(line);
    if (match) return { child, url: match[1]! };
  }
  throw new Error('the server exited before it was listening');
}

describe('recovery', () => {
  it('a graceful stop releases a running crawl, and the next start resumes it without re-fetching', async () => {
    const pages = 40;
    const s = await siteForTest({ pages, delayMs: 30 });
    const dir = data();
    const first = await app(dir);
    const id = (await first.gql(START_CRAWL, { input: { url: s.url, maxPages: pages, maxDepth: 5 } })).data!.startCrawl.id;
    await collect<EventPayload>(first.ws(), JOB_PROGRESS, { id }, 'jobProgress').until((e) => e.progress.pagesFetched >= 8);
    await first.stop({ remove: false });
    const fetchedBefore = s.requestCount();

    const second = await app(dir);
    const events = collect<EventPayload>(second.ws(), JOB_PROGRESS, { id }, 'jobProgress');
    await events.done;
    expect(events.items.some((e) => e.status === 'QUEUED' && e.message?.includes('shut down'))).toBe(true);
    const final = (await second.gql(EXECUTION, { id })).data!.execution;
    expect(final).toMatchObject({ status: 'SUCCEEDED', attempt: 2, progress: { pagesFetched: pages, pagesFailed: 0 } });
    expect(s.requestCount()).toBeGreaterThan(fetchedBefore);
    // at most the requests in flight and the pages fetched and not yet stored: three times the concurrency (8)
    expect(refetched(s, pages).length).toBeLessThanOrEqual(24);
  });

  it('kill -9 in the middle of a crawl, then a restart resumes it from its checkpoint', async () => {
    const pages = 60;
    const s = await siteForTest({ pages, delayMs: 40 });
    const dir = data();
    const { child, url } = await startChild(dir);
    const res = await fetch(`${url}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ query: START_CRAWL, variables: { input: { url: s.url, maxPages: pages, maxDepth: 5 } } }),
    });
    const id = ((await res.json()) as { data: { startCrawl: { id: string } } }).data.startCrawl.id;
    await s.waitFor(() => s.requestCount() >= 15);
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGKILL');
    await exited;
    const fetchedBefore = s.requestCount();

    const restarted = await app(dir);
    const events = collect<EventPayload>(restarted.ws(), JOB_PROGRESS, { id }, 'jobProgress');
    await events.done;
    expect(events.items.some((e) => e.status === 'QUEUED' && e.message?.includes('resuming from the checkpoint'))).toBe(true);
    const final = (await restarted.gql(EXECUTION, { id })).data!.execution;
    expect(final).toMatchObject({ status: 'SUCCEEDED', attempt: 2, progress: { pagesFetched: pages } });
    expect(s.requestCount()).toBeGreaterThan(fetchedBefore);
    expect(refetched(s, pages).length).toBeLessThanOrEqual(24);
  });

  it('a restart never revives a cancelled crawl', async () => {
    const s = await siteForTest({ pages: 30, delayMs: 60_000 });
    const dir = data();
    const first = await app(dir);
    const id = (await first.gql(START_CRAWL, { input: { url: s.url } })).data!.startCrawl.id;
    const watcher = collect<EventPayload>(first.ws(), JOB_PROGRESS, { id }, 'jobProgress');
    await s.waitFor(() => s.inFlight() > 0);
    await first.gql(CANCEL, { id });
    await watcher.done;
    await first.stop({ remove: false });
    const requests = s.requestCount();

    const second = await app(dir);
    expect((await second.gql(EXECUTION, { id })).data!.execution.status).toBe('CANCELLED');
    expect((await second.gql(`{ activeExecutions { id } }`)).data!.activeExecutions).toEqual([]);
    expect(s.requestCount()).toBe(requests);
  });

  it('at start-up, a CANCELLING execution of a dead process ends CANCELLED and a RUNNING one resumes', async () => {
    const s = await siteForTest({ pages: 3 });
    const dir = data();
    const store = new SqliteStore(join(dir, 'sluice.db'));
    const cancelling = (await store.createExecution({ kind: 'CRAWL', title: 'a', sessionId: null, input: parseCrawlInput({ url: `${s.url}/page/1` }), createdBy: null })).execution;
    const running = (await store.createExecution({ kind: 'CRAWL', title: 'b', sessionId: null, input: parseCrawlInput({ url: s.url }), createdBy: null })).execution;
    await store.claim('dead-node', 2, 60_000);
    await store.transition(cancelling.id, 'requestCancel', { reason: 'stop before the crash' });
    await store.close();

    const t = await app(dir);
    const resumed = collect<EventPayload>(t.ws(), JOB_PROGRESS, { id: running.id }, 'jobProgress');
    await resumed.done;
    expect(resumed.items.at(-1)).toMatchObject({ status: 'SUCCEEDED' });
    const cancelled = (await t.gql(EXECUTION, { id: cancelling.id })).data!.execution;
    expect(cancelled.status).toBe('CANCELLED');
    expect(s.requests.filter((p) => p === '/page/1')).toHaveLength(1); // only the resumed crawl of / reached it
  });
});
