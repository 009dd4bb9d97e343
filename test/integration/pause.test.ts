// Pause, resume and priorities through the API, on both stores: a real local site counts requests.
import { describe, expect, it } from 'vitest';
import { defineJob } from '../../server/engine/job.ts';
import { pagePath, type Site } from '../fixtures/site.ts';
import { collect, JOB_PROGRESS, START_CRAWL, startTestApp, type EventPayload, type TestApp, type TestAppOptions } from '../helpers/app.ts';
import { deferCleanup, siteForTest } from '../helpers/cleanup.ts';
import { appStores } from '../helpers/app-stores.ts';

const stores = appStores;

const FIELDS = 'id status attempt priority queuePosition lastSeq progress { pagesFetched }';
const PAUSE = `mutation ($id: ID!, $reason: String) { pauseExecution(id: $id, reason: $reason) { ${FIELDS} } }`;
const RESUME = `mutation ($id: ID!) { resumeExecution(id: $id) { ${FIELDS} } }`;
const PRIORITY = `mutation ($id: ID!, $p: Int!) { setExecutionPriority(id: $id, priority: $p) { ${FIELDS} } }`;
const GET = `query ($id: ID!) { execution(id: $id) { ${FIELDS} } }`;
const CANCEL = `mutation ($id: ID!) { cancelExecution(id: $id) { accepted execution { id status } } }`;
const ACTIVE = `{ activeExecutions { id status } }`;

async function app(config: TestAppOptions): Promise<TestApp> {
  const started = await startTestApp(config);
  deferCleanup(() => started.stop({ remove: false }));
  return started;
}

async function startCrawl(t: TestApp, input: Record<string, unknown>): Promise<string> {
  const res = await t.gql(START_CRAWL, { input });
  expect(res.errors).toBeUndefined();
  return res.data!.startCrawl.id as string;
}

async function call(t: TestApp, query: string, variables: Record<string, unknown>): Promise<Record<string, any>> {
  const res = await t.gql(query, variables);
  expect(res.errors).toBeUndefined();
  return Object.values(res.data!)[0] as Record<string, any>;
}

async function errorCode(t: TestApp, query: string, variables: Record<string, unknown>): Promise<string | undefined> {
  const res = await t.gql(query, variables);
  return res.errors?.[0]?.extensions?.code;
}

/** How many times each generated page was requested. */
function requestsPerPage(s: Site, pages: number): Map<string, number> {
  const counts = new Map(Array.from({ length: pages }, (_, i) => [pagePath(i), 0]));
  for (const p of s.requests) if (counts.has(p)) counts.set(p, counts.get(p)! + 1);
  return counts;
}

describe.each(stores)('pause and resume ($name)', ({ config }) => {
  it('pauses a crawl mid-way and resumes it: every page fetched once, beyond what was in flight; the stream stays open', async () => {
    const pages = 30;
    const s = await siteForTest({ pages, delayMs: 25 });
    const t = await app(await config());
    const id = await startCrawl(t, { url: s.url, maxPages: pages, maxDepth: 5 });
    const watcher = collect<EventPayload>(t.ws(), JOB_PROGRESS, { id }, 'jobProgress');
    await watcher.until((e) => e.progress.pagesFetched >= 6);

    const paused = await call(t, PAUSE, { id, reason: 'lunch' });
    expect(paused).toMatchObject({ status: 'PAUSED', attempt: 1, queuePosition: null });
    await watcher.until((e) => e.type === 'STATUS' && e.status === 'PAUSED');
    // Its code stops: the requests in flight are abandoned, and none starts while it is paused.
    await s.waitFor(() => s.inFlight() === 0);
    const requestedWhilePaused = s.requestCount();
    expect((await call(t, GET, { id })).status).toBe('PAUSED');
    expect((await t.gql(ACTIVE)).data!.activeExecutions).toContainEqual({ id, status: 'PAUSED' });
    expect(s.requestCount()).toBe(requestedWhilePaused);

    const resumed = await call(t, RESUME, { id });
    expect(resumed).toMatchObject({ status: 'QUEUED', attempt: 2 });
    await watcher.done; // it did not complete on PAUSED: it ends after the resumed crawl's terminal event
    const final = await call(t, GET, { id });
    expect(final).toMatchObject({ status: 'SUCCEEDED', attempt: 2, progress: { pagesFetched: pages } });

    // The paused attempt wrote nothing after the pause: its STATUS PAUSED is followed by the resume.
    const statuses = watcher.items.filter((e) => e.type === 'STATUS').map((e) => e.status);
    expect(statuses).toEqual(['QUEUED', 'RUNNING', 'PAUSED', 'QUEUED', 'RUNNING', 'SUCCEEDED']);
    const pausedAt = watcher.items.findIndex((e) => e.status === 'PAUSED');
    expect(watcher.items[pausedAt + 1]).toMatchObject({ type: 'STATUS', status: 'QUEUED', message: 'resumed' });
    expect(watcher.items.map((e) => e.seq)).toEqual(watcher.items.map((_, i) => i + 1));

    // A page stored before the pause is never fetched again; one in flight (requested, or fetched and
    // not yet stored) may be fetched once more.
    const storedBefore = new Set(watcher.items.slice(0, pausedAt).filter((e) => e.type === 'PAGE').map((e) => new URL(e.message!).pathname));
    expect(storedBefore.size).toBeGreaterThanOrEqual(6);
    const counts = requestsPerPage(s, pages);
    for (const [path, n] of counts) expect(n, path).toBe(storedBefore.has(path) ? 1 : n === 2 ? 2 : 1);
    // the requests in flight and the pages fetched and not yet stored: at most three times the concurrency (8)
    expect([...counts.values()].filter((n) => n > 1).length).toBeLessThanOrEqual(24);
    const sources = (await t.gql('{ knowledgeSources { pages } }')).data!.knowledgeSources;
    expect(sources).toEqual([{ pages }]);
  });

  it('a paused worker that ignores its signal frees its slot after the grace period, and its late write is refused', async () => {
    // A crawl deaf to its signal that writes once the test lets it: the write comes after the pause.
    const gates = new Map<string, () => void>();
    const wrote = new Map<string, () => void>();
    const lateErrors: unknown[] = [];
    const deaf = defineJob({
      kind: 'CRAWL',
      resumable: true,
      run: async (_input, ctx) => {
        await new Promise<void>((resolve) => gates.set(`${ctx.executionId}#${ctx.attempt}`, resolve));
        await ctx.commit({ event: { type: 'LOG', message: 'late write' } }).catch((error: unknown) => lateErrors.push(error));
        wrote.get(`${ctx.executionId}#${ctx.attempt}`)?.();
      },
    });
    const s = await siteForTest({ pages: 1 });
    const t = await app({ ...(await config()), maxConcurrent: 1, cancelGraceMs: 200, jobs: [deaf] });
    const a = await startCrawl(t, { url: s.url });
    const watchA = collect<EventPayload>(t.ws(), JOB_PROGRESS, { id: a }, 'jobProgress');
    await watchA.until((e) => e.status === 'RUNNING');
    const b = await startCrawl(t, { url: `${s.url}/?b` });
    expect((await call(t, GET, { id: b })).queuePosition).toBe(1);

    await call(t, PAUSE, { id: a });
    // a's code has not returned, yet after the grace period its slot goes to b
    const watchB = collect<EventPayload>(t.ws(), JOB_PROGRESS, { id: b }, 'jobProgress');
    await watchB.until((e) => e.status === 'RUNNING');
    const aWrote = new Promise<void>((resolve) => wrote.set(`${a}#1`, resolve));
    gates.get(`${a}#1`)!();
    await aWrote;
    gates.get(`${b}#1`)!();
    await watchB.done;
    const events = (await t.gql(`query ($id: ID!) { execution(id: $id) { status lastSeq } }`, { id: a })).data!.execution;
    expect(events.status).toBe('PAUSED');
    expect(watchA.items.some((e) => e.message === 'late write')).toBe(false);
    expect(watchA.items.at(-1)).toMatchObject({ type: 'STATUS', status: 'PAUSED', seq: events.lastSeq });
    expect(lateErrors).toHaveLength(1); // the pausing worker's write after the pause was refused
    expect(watchB.items.some((e) => e.message === 'late write')).toBe(true);

    // Resumed, it runs again as attempt 2; its write is accepted.
    await call(t, RESUME, { id: a });
    await watchA.until((e) => e.status === 'RUNNING' && e.seq > events.lastSeq);
    gates.get(`${a}#2`)!();
    await watchA.done;
    expect(await call(t, GET, { id: a })).toMatchObject({ status: 'SUCCEEDED', attempt: 2 });
    expect(watchA.items.filter((e) => e.message === 'late write')).toHaveLength(1);
  });

  it('a paused crawl stays paused across a restart of its node, then resumes', async () => {
    const pages = 12;
    // the first node gets the home page and /page/1 at once, the others only after its pause: it pauses mid-crawl
    let held = true;
    const s = await siteForTest({ pages, delayMs: (path) => (held && path !== '/' && path !== pagePath(1) ? 60_000 : 0) });
    const cfg = await config();
    const first = await app(cfg);
    const id = await startCrawl(first, { url: s.url, maxPages: pages, maxDepth: 5 });
    await collect<EventPayload>(first.ws(), JOB_PROGRESS, { id }, 'jobProgress').until((e) => e.progress.pagesFetched >= 2);
    const { lastSeq } = await call(first, PAUSE, { id });
    await first.stop({ remove: false });
    held = false;

    const second = await app(cfg);
    // start() has run its recovery sweep: the paused execution was left alone
    expect(await call(second, GET, { id })).toMatchObject({ status: 'PAUSED', attempt: 1 });
    expect(second.app.engine.runningIds()).toEqual([]);
    // nothing was written for it since the pause: no recovery, no claim, no late write of the first node
    expect((await call(second, GET, { id })).lastSeq).toBe(lastSeq);
    const watcher = collect<EventPayload>(second.ws(), JOB_PROGRESS, { id }, 'jobProgress');
    await call(second, RESUME, { id });
    await watcher.done;
    expect(await call(second, GET, { id })).toMatchObject({ status: 'SUCCEEDED', attempt: 2, progress: { pagesFetched: pages } });
  });

  it('pauses a queued execution at once; cancel ends a paused one at once; errors carry a code', async () => {
    const s = await siteForTest({ pages: 3, delayMs: 60_000 });
    const t = await app({ ...(await config()), maxConcurrent: 1 });
    const blocker = await startCrawl(t, { url: s.url, maxPages: 3 });
    await s.waitFor(() => s.inFlight() > 0);
    const queued = await startCrawl(t, { url: `${s.url}/page/1`, maxPages: 1 });
    expect(await call(t, PAUSE, { id: queued })).toMatchObject({ status: 'PAUSED', attempt: 1 });
    expect(await call(t, PAUSE, { id: queued })).toMatchObject({ status: 'PAUSED' }); // idempotent
    expect(await call(t, CANCEL, { id: queued })).toEqual({ accepted: true, execution: { id: queued, status: 'CANCELLED' } });
    expect(await errorCode(t, RESUME, { id: queued })).toBe('CONFLICT');
    expect(await errorCode(t, PAUSE, { id: queued })).toBe('CONFLICT');
    expect(await errorCode(t, PAUSE, { id: 'no-such-execution' })).toBe('NOT_FOUND');
    expect(await errorCode(t, PRIORITY, { id: blocker, p: 11 })).toBe('BAD_USER_INPUT');
    expect(await errorCode(t, PRIORITY, { id: blocker, p: 1 })).toBe('CONFLICT'); // RUNNING
    expect(await errorCode(t, START_CRAWL, { input: { url: s.url, priority: -11 } })).toBe('BAD_USER_INPUT');
    expect(await errorCode(t, START_CRAWL, { input: { url: s.url, timeLimitSeconds: 0 } })).toBe('BAD_USER_INPUT');
    await call(t, CANCEL, { id: blocker });
  });

  it('refuses to pause a chat answer (it cannot resume) rather than cancelling it', async () => {
    const t = await app(await config());
    const res = await t.gql(`mutation { sendChatMessage(input: { text: "what is a sluice?" }) { id } }`);
    const id = res.data!.sendChatMessage.id as string;
    const refused = await t.gql(PAUSE, { id });
    expect(refused.errors?.[0]).toMatchObject({ extensions: { code: 'CONFLICT', kind: 'CHAT' } });
    expect(refused.errors?.[0]?.message).toMatch(/cannot resume, so it cannot be paused/);
    expect((await call(t, GET, { id })).status).not.toMatch(/PAUSED|CANCELL/);
  });

  it('pauses and resumes in bulk, by ids', async () => {
    const s = await siteForTest({ pages: 3, delayMs: 60_000 });
    const t = await app({ ...(await config()), maxConcurrent: 1 });
    const running = await startCrawl(t, { url: s.url, maxPages: 3 });
    await s.waitFor(() => s.inFlight() > 0);
    const a = await startCrawl(t, { url: `${s.url}/page/1`, maxPages: 1 });
    const b = await startCrawl(t, { url: `${s.url}/page/2`, maxPages: 1 });
    const bulkPause = `mutation ($ids: [ID!]) { pauseExecutions(ids: $ids, reason: "maintenance") { affected executions { id status } } }`;
    const paused = await call(t, bulkPause, { ids: [running, a, 'unknown'] });
    expect(paused.affected).toBe(2);
    expect(paused.executions).toEqual(expect.arrayContaining([{ id: running, status: 'PAUSED' }, { id: a, status: 'PAUSED' }]));
    // the paused running crawl freed its slot: b is claimed
    await collect<EventPayload>(t.ws(), JOB_PROGRESS, { id: b }, 'jobProgress').until((e) => e.status === 'RUNNING');
    const resumedAll = await call(t, `mutation { resumeExecutions(kind: CRAWL) { affected executions { id status } } }`, {});
    expect(resumedAll.affected).toBe(2);
    expect(resumedAll.executions.map((e: { id: string }) => e.id).sort()).toEqual([running, a].sort());
    await call(t, `mutation { cancelExecutions(kind: CRAWL) { cancelled } }`, {});
  });

  it('claims the highest priority first, FIFO within a priority, under a full worker pool; queuePosition shows the order', async () => {
    const slow = await siteForTest({ pages: 1, delayMs: 60_000 });
    const s = await siteForTest({ pages: 6 });
    const t = await app({ ...(await config()), maxConcurrent: 1 });
    const blocker = await startCrawl(t, { url: slow.url, maxPages: 1 });
    await slow.waitFor(() => slow.inFlight() > 0);
    // each crawl fetches one page of its own, so the site sees the order of the claims
    const queue = [['a', 0], ['b', 5], ['c', 0], ['d', 5], ['e', -3]] as const;
    const ids: Record<string, string> = {};
    for (const [i, [name, priority]] of queue.entries()) {
      ids[name] = await startCrawl(t, { url: `${s.url}${pagePath(i + 1)}`, maxPages: 1, maxDepth: 0, priority });
    }
    const position = async (name: string) => (await call(t, GET, { id: ids[name] })).queuePosition as number;
    expect(await Promise.all(['b', 'd', 'a', 'c', 'e'].map(position))).toEqual([1, 2, 3, 4, 5]);
    expect(await call(t, PRIORITY, { id: ids.c, p: 10 })).toMatchObject({ priority: 10, queuePosition: 1, status: 'QUEUED' });
    expect(await position('b')).toBe(2);
    expect((await call(t, GET, { id: blocker })).queuePosition).toBeNull();

    const watchers = Object.values(ids).map((id) => collect<EventPayload>(t.ws(), JOB_PROGRESS, { id }, 'jobProgress'));
    await call(t, CANCEL, { id: blocker });
    await Promise.all(watchers.map((w) => w.done));
    const claimed = s.requests.filter((p) => p.startsWith('/page/')).map((p) => queue[Number(p.slice(6)) - 1]![0]);
    expect(claimed).toEqual(['c', 'b', 'd', 'a', 'e']);
  });
});
