import { beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { watch } from 'vue';
import type { Site } from '../fixtures/site.ts';
import type { TestApp } from '../helpers/app.ts';
import { useCrawlStore } from '../../client/stores/crawl.ts';
import { displayStatus, type ExecutionEntry } from '../../client/lib/reconcile.ts';
import type { ExecutionEvent, Progress } from '../../client/graphql/documents.ts';
import { fakeExecution, storesForTest, until } from '../helpers/client-helpers.ts';
import { suiteResources } from '../helpers/suite-resources.ts';

const resources = suiteResources();
let server: TestApp;
let site: Site;
let stores: ReturnType<typeof storesForTest>;

beforeAll(async () => {
  site = await resources.site({ pages: 60, delayMs: 250 });
  server = await resources.app();
});

beforeEach(() => {
  stores = storesForTest(server);
});

/** Starts a crawl of the slow site through the crawl store and waits until it runs. */
async function startRunningCrawl(): Promise<ExecutionEntry> {
  const execution = await useCrawlStore().startCrawl({ url: `${site.url}/`, maxPages: 40, maxDepth: 4 });
  expect(execution).not.toBeNull();
  const id = execution!.id;
  stores.executions.watchLive(id); // as its card on screen does
  await until(() => stores.executions.get(id)?.execution.status === 'RUNNING', 15_000, 'RUNNING');
  return stores.executions.get(id)!;
}

describe('optimistic Stop', () => {
  it('shows Stopping… at once, then the server truth: Cancelled', async () => {
    const entry = await startRunningCrawl();
    const id = entry.execution.id;

    const pending = stores.executions.cancel(id);
    // Synchronously, before any answer: the user sees "Stopping…".
    expect(displayStatus(stores.executions.get(id)!)).toBe('CANCELLING');

    expect(await pending).toBe(true);
    expect(['CANCELLING', 'CANCELLED']).toContain(displayStatus(stores.executions.get(id)!));
    await until(() => stores.executions.get(id)?.execution.status === 'CANCELLED', 10_000, 'CANCELLED');
    expect(displayStatus(stores.executions.get(id)!)).toBe('CANCELLED');
    expect(stores.executions.runningCount).toBe(0);
    // Started here, so its end is announced, once.
    expect(stores.toasts.toasts.filter((toast) => toast.title === 'Crawl cancelled')).toHaveLength(1);
  });

  it('rolls back and says why when the server refuses (unknown id: NOT_FOUND)', async () => {
    stores.executions.ingest(fakeExecution('00000000-0000-0000-0000-000000000000'));
    const id = '00000000-0000-0000-0000-000000000000';

    const pending = stores.executions.cancel(id);
    expect(displayStatus(stores.executions.get(id)!)).toBe('CANCELLING');

    expect(await pending).toBe(false);
    expect(displayStatus(stores.executions.get(id)!)).toBe('RUNNING');
    expect(stores.executions.get(id)!.stopping).toBe(false);
    const toast = stores.toasts.toasts.at(-1);
    expect(toast).toMatchObject({ tone: 'error', title: 'Could not stop' });
    expect(toast?.message).toMatch(/not found|no execution|unknown/i);
  });

  it('stops several with one request; one the server does not know rolls back, and the toast says how many stopped', async () => {
    const [a, b] = await Promise.all([startRunningCrawl(), startRunningCrawl()]);
    const unknown = fakeExecution('11111111-1111-1111-1111-111111111111');
    stores.executions.ingest(unknown);
    const ids = [a.execution.id, b.execution.id, unknown.id];

    const pending = stores.executions.cancelMany(ids);
    for (const id of ids) expect(displayStatus(stores.executions.get(id)!)).toBe('CANCELLING');

    expect(await pending).toBe(2);
    expect(displayStatus(stores.executions.get(unknown.id)!)).toBe('RUNNING');
    expect(stores.executions.get(unknown.id)!.stopping).toBe(false);
    expect(stores.toasts.toasts.find((toast) => toast.title === 'Stopped 2 of 3')).toBeDefined();
    await until(
      () => [a, b].every((entry) => stores.executions.get(entry.execution.id)?.execution.status === 'CANCELLED'),
      10_000,
      'both CANCELLED',
    );
  });
});

const progress = (overrides: Partial<Progress>): Progress => ({ ...fakeExecution('p').progress, ...overrides });
const event = (executionId: string, seq: number, overrides: Partial<ExecutionEvent> = {}): ExecutionEvent => ({
  executionId,
  seq,
  at: new Date().toISOString(),
  type: 'LOG',
  status: 'RUNNING',
  progress: progress({ percent: seq * 10, pagesFetched: seq }),
  message: `line ${seq}`,
  ...overrides,
});

describe('the end of work this tab started', () => {
  const succeeded = () => stores.toasts.toasts.filter((toast) => toast.title === 'Crawl succeeded');

  it('is announced when executionChanged told of the end before the start request was answered', () => {
    const id = '22222222-2222-2222-2222-222222222222';
    // executionChanged first: running, then ended, while the tab does not yet know the crawl as its own.
    stores.executions.ingest(fakeExecution(id, { lastSeq: 2 }));
    stores.executions.ingest(fakeExecution(id, { status: 'SUCCEEDED', lastSeq: 5, finishedAt: new Date().toISOString() }));
    expect(succeeded()).toHaveLength(0);
    // Then the startCrawl answer, with the crawl as it was when it was queued.
    stores.executions.ingest(fakeExecution(id, { status: 'QUEUED', lastSeq: 1, startedAt: null }), { mine: true });
    expect(succeeded()).toHaveLength(1);
    expect(succeeded()[0]!.link).toBe(`/executions/${id}`);
    // Once: a later snapshot of it says nothing new.
    stores.executions.ingest(fakeExecution(id, { status: 'SUCCEEDED', lastSeq: 5 }), { mine: true });
    expect(succeeded()).toHaveLength(1);
  });

  it('is announced when its end is the first the tab hears of it', () => {
    const id = '33333333-3333-3333-3333-333333333333';
    stores.executions.ingest(fakeExecution(id, { status: 'SUCCEEDED', lastSeq: 4 }));
    stores.executions.ingest(fakeExecution(id, { status: 'QUEUED', lastSeq: 1, startedAt: null }), { mine: true });
    expect(succeeded()).toHaveLength(1);
  });

  it('of work another tab started, is not announced here', () => {
    const id = '44444444-4444-4444-4444-444444444444';
    stores.executions.ingest(fakeExecution(id, { lastSeq: 2 }));
    stores.executions.ingest(fakeExecution(id, { status: 'SUCCEEDED', lastSeq: 5 }));
    expect(succeeded()).toHaveLength(0);
  });
});

describe('merging events by seq', () => {
  it('drops duplicates and never lets progress go down', () => {
    const id = '22222222-2222-2222-2222-222222222222';
    stores.executions.ingest(fakeExecution(id));
    const { applyEvent } = stores.executions;

    applyEvent(event(id, 1));
    applyEvent(event(id, 2));
    applyEvent(event(id, 2)); // a replay after a reconnect
    applyEvent(event(id, 1));
    // An out-of-date snapshot of the progress (lower percent and counters) in a newer event.
    applyEvent(event(id, 3, { progress: progress({ percent: 5, pagesFetched: 1, pagesDiscovered: 9 }) }));

    const entry = stores.executions.get(id)!;
    expect(entry.logs.map((line) => line.seq)).toEqual([1, 2, 3]);
    expect(entry.execution.progress.percent).toBe(20);
    expect(entry.execution.progress.pagesFetched).toBe(2);
    expect(entry.execution.progress.pagesDiscovered).toBe(9);
    expect(entry.eventSeq).toBe(3);
  });

  it('ignores a snapshot older than the events seen, and nothing leaves a terminal state', () => {
    const id = '33333333-3333-3333-3333-333333333333';
    stores.executions.ingest(fakeExecution(id));
    stores.executions.applyEvent(event(id, 4, { type: 'STATUS', status: 'CANCELLED', message: null }));
    stores.executions.ingest(fakeExecution(id, { status: 'RUNNING', lastSeq: 3 }));
    stores.executions.applyEvent(event(id, 5, { status: 'RUNNING' }));
    expect(stores.executions.get(id)!.execution.status).toBe('CANCELLED');
  });

  it('follows a real crawl: seqs strictly increase, counters never decrease, no line twice across a reconnect', async () => {
    const entry = await startRunningCrawl();
    const id = entry.execution.id;
    const seen: { seq: number; percent: number | null; fetched: number }[] = [];
    const stop = watch(
      () => stores.executions.get(id)!.stateSeq,
      () => {
        const current = stores.executions.get(id)!;
        seen.push({ seq: current.stateSeq, percent: current.execution.progress.percent, fetched: current.execution.progress.pagesFetched });
      },
      { flush: 'sync' },
    );
    await until(() => stores.executions.get(id)!.execution.progress.pagesFetched >= 2, 15_000, 'two pages');
    // What the stores do after a reconnect: resubscribe from the last seq seen, ask what is active.
    stores.connection.$patch({ reconnects: stores.connection.reconnects + 1 });
    await until(() => stores.executions.get(id)!.execution.progress.pagesFetched >= 4, 15_000, 'four pages');
    await stores.executions.cancel(id);
    await until(() => stores.executions.get(id)!.execution.status === 'CANCELLED', 10_000, 'CANCELLED');
    stop();

    const final = stores.executions.get(id)!;
    const logSeqs = final.logs.map((line) => line.seq);
    expect(new Set(logSeqs).size).toBe(logSeqs.length);
    expect(logSeqs).toEqual([...logSeqs].sort((x, y) => x - y));
    for (let i = 1; i < seen.length; i++) {
      expect(seen[i]!.seq).toBeGreaterThan(seen[i - 1]!.seq);
      expect(seen[i]!.fetched).toBeGreaterThanOrEqual(seen[i - 1]!.fetched);
      if (seen[i - 1]!.percent !== null) expect(seen[i]!.percent).toBeGreaterThanOrEqual(seen[i - 1]!.percent!);
    }
  });
});

describe('what is running comes from the server', () => {
  it('a fresh store (a reload) sees the server’s active executions and nothing it stopped', async () => {
    const running = await startRunningCrawl();
    const stopped = await startRunningCrawl();
    await stores.executions.cancel(stopped.execution.id);
    await until(() => stores.executions.get(stopped.execution.id)?.execution.status === 'CANCELLED', 10_000, 'CANCELLED');
    await stores.dispose();

    stores = storesForTest(server); // a reload: nothing carried over
    await stores.executions.start();
    const activeIds = stores.executions.activeEntries.map((entry) => entry.execution.id);
    expect(activeIds).toContain(running.execution.id);
    expect(activeIds).not.toContain(stopped.execution.id);
    await stores.executions.cancel(running.execution.id);
  });
});
