import { describe, expect, it } from 'vitest';
import { defineJob } from '../../server/engine/job.ts';
import type { Site } from '../fixtures/site.ts';
import { siteForTest } from '../helpers/cleanup.ts';
import { CANCEL, collect, EXECUTION, isTerminalEvent, JOB_PROGRESS, START_CRAWL, appForTest, type EventPayload, type TestApp } from '../helpers/app.ts';


let app: TestApp | undefined;
let site: Site | undefined;

async function startCrawl(t: TestApp, input: Record<string, unknown>): Promise<string> {
  const res = await t.gql(START_CRAWL, { input });
  expect(res.errors).toBeUndefined();
  return res.data!.startCrawl.id as string;
}

describe('cancel', () => {
  it('aborts requests in flight; every subscriber gets CANCELLED and the site gets no further request', async () => {
    site = await siteForTest({ pages: 200, delayMs: 60_000 });
    app = await appForTest();
    const id = await startCrawl(app, { url: site.url, maxPages: 200 });
    const watchers = [app.ws(), app.ws(), app.ws()].map((client) => collect<EventPayload>(client, JOB_PROGRESS, { id }, 'jobProgress'));
    // The start page is slow: wait until it is in flight, so the cancel has a request to abort.
    await site.waitFor(() => site!.inFlight() > 0);

    const res = await app.gql(CANCEL, { id, reason: 'user pressed Stop' });
    expect(res.data!.cancelExecution).toMatchObject({ accepted: true, execution: { status: 'CANCELLING', cancelReason: 'user pressed Stop' } });
    for (const w of watchers) {
      await w.done;
      const last = w.items.at(-1)!;
      expect(last).toMatchObject({ type: 'STATUS', status: 'CANCELLED' });
      expect(w.items.filter(isTerminalEvent)).toHaveLength(1);
      expect(w.items.map((e) => e.seq)).toEqual(w.items.map((_, i) => i + 1));
    }
    // The code has stopped (CANCELLED follows only then): the request in flight was aborted.
    expect(app.app.engine.runningIds()).toEqual([]);
    await site.waitFor(() => site!.inFlight() === 0);
    const requestsAtCancel = site.requestCount();
    const after = await app.gql(`query ($id: ID!) { execution(id: $id) { status finishedAt node } }`, { id });
    expect(after.data!.execution).toMatchObject({ status: 'CANCELLED', node: null });
    await new Promise((resolve) => setTimeout(resolve, 300)); // a window for a stray request to show up
    expect(site.requestCount()).toBe(requestsAtCancel);
  });

  it('cancels 12 executions at once, running and queued, each ending CANCELLED exactly once', async () => {
    const slow = { headers: { 'content-type': 'text/html' }, body: '<title>slow</title><p>slow</p>', delayMs: 60_000 };
    site = await siteForTest({ routes: Object.fromEntries(Array.from({ length: 12 }, (_, i) => [`/?crawl=${i}`, slow])) });
    app = await appForTest({ maxConcurrent: 4 });
    const ids: string[] = [];
    for (let i = 0; i < 12; i++) ids.push(await startCrawl(app, { url: `${site.url}/?crawl=${i}`, maxPages: 5, sessionId: 'batch' }));
    const watchers = ids.map((id) => collect<EventPayload>(app!.ws(), JOB_PROGRESS, { id }, 'jobProgress'));
    await site.waitFor(() => site!.inFlight() >= 4);
    const active = await app.gql(`{ activeExecutions(sessionId: "batch") { id status } }`);
    const statuses = active.data!.activeExecutions.map((e: { status: string }) => e.status);
    expect(statuses.filter((s: string) => s === 'RUNNING')).toHaveLength(4); // the per-node cap
    expect(statuses.filter((s: string) => s === 'QUEUED')).toHaveLength(8);

    const res = await app.gql(`mutation { cancelExecutions(sessionId: "batch", reason: "batch stop") { cancelled executions { id status } } }`);
    expect(res.data!.cancelExecutions.cancelled).toBe(12);
    await Promise.all(watchers.map((w) => w.done));
    for (const w of watchers) {
      expect(w.items.filter(isTerminalEvent).map((e) => e.status)).toEqual(['CANCELLED']);
      expect(w.items.some((e, i) => i > 0 && e.seq !== w.items[i - 1]!.seq + 1)).toBe(false);
    }
    const queuedNeverRan = watchers.filter((w) => !w.items.some((e) => e.status === 'RUNNING'));
    expect(queuedNeverRan).toHaveLength(8);
    const again = await app.gql(`{ activeExecutions { id } }`);
    expect(again.data!.activeExecutions).toEqual([]);
  });

  it('a cancel racing completion ends in exactly one terminal status', async () => {
    site = await siteForTest({ pages: 1 });
    app = await appForTest({ maxConcurrent: 20 });
    const runs = await Promise.all(
      Array.from({ length: 20 }, async (_, i) => {
        const id = await startCrawl(app!, { url: site!.url, maxPages: 1, maxDepth: 0, respectRobotsTxt: false });
        const watcher = collect<EventPayload>(app!.ws(), JOB_PROGRESS, { id }, 'jobProgress');
        // Spread the cancels over the life of the crawl: before, during and after it runs.
        if (i % 4 === 1) await watcher.until((e) => e.status === 'RUNNING');
        if (i % 4 === 2) await watcher.until((e) => e.type === 'PAGE');
        if (i % 4 === 3) await watcher.done;
        const res = await app!.gql(CANCEL, { id });
        await watcher.done;
        return { accepted: res.data!.cancelExecution.accepted as boolean, events: watcher.items };
      }),
    );
    for (const { accepted, events } of runs) {
      const terminal = events.filter(isTerminalEvent);
      expect(terminal).toHaveLength(1);
      // Accepted means the tombstone was written while it was active: then it must end CANCELLED.
      expect(terminal[0]!.status).toBe(accepted ? 'CANCELLED' : 'SUCCEEDED');
      expect(events.at(-1)).toBe(terminal[0]);
    }
    expect(runs.some((r) => r.accepted)).toBe(true);
    expect(runs.some((r) => !r.accepted)).toBe(true);
  });

  it('answers accepted=false for an ended execution and NOT_FOUND for an unknown id', async () => {
    site = await siteForTest({ pages: 1 });
    app = await appForTest();
    const id = await startCrawl(app, { url: site.url, maxDepth: 0 });
    await collect<EventPayload>(app.ws(), JOB_PROGRESS, { id }, 'jobProgress').done;
    const res = await app.gql(CANCEL, { id });
    expect(res.data!.cancelExecution).toMatchObject({ accepted: false, execution: { status: 'SUCCEEDED' } });
    const unknown = await app.gql(CANCEL, { id: 'no-such-execution' });
    expect(unknown.errors?.[0]?.extensions?.code).toBe('NOT_FOUND');
    expect(unknown.errors?.[0]?.message).toContain('no-such-execution');
  });

  it('finalises CANCELLED after the grace period even if the code does not stop', async () => {
    // A crawl deaf to its signal, as a badly written job would be: it returns only when the test lets it.
    let letGo = (): void => {};
    const deaf = defineJob({ kind: 'CRAWL', resumable: true, run: () => new Promise<void>((resolve) => (letGo = resolve)) });
    site = await siteForTest({ pages: 1 });
    app = await appForTest({ cancelGraceMs: 200, jobs: [deaf] });
    const id = await startCrawl(app, { url: site.url });
    const watcher = collect<EventPayload>(app.ws(), JOB_PROGRESS, { id }, 'jobProgress');
    await watcher.until((e) => e.status === 'RUNNING');
    const started = Date.now();
    await app.gql(CANCEL, { id });
    await watcher.done;
    expect(watcher.items.at(-1)).toMatchObject({ status: 'CANCELLED', message: expect.stringContaining('grace period') });
    expect(Date.now() - started).toBeGreaterThanOrEqual(150);
    // Its code returning late changes nothing: the row has ended.
    letGo();
    expect((await app.gql(EXECUTION, { id })).data!.execution).toMatchObject({ status: 'CANCELLED' });
  });
});
