// Pause and resume across nodes (PostgreSQL + Redis): paused from a node that does not run it, the
// owner's code stops; resumed from any node, it continues from its checkpoint on whichever claims it.
import { describe, expect, it } from 'vitest';
import { pagePath } from '../fixtures/site.ts';
import { collect, JOB_PROGRESS, START_CRAWL, type EventPayload, type TestApp } from '../helpers/app.ts';
import { deferCleanup, siteForTest } from '../helpers/cleanup.ts';
import { createCluster } from '../helpers/cluster.ts';

const GET = `query ($id: ID!) { execution(id: $id) { status attempt node progress { pagesFetched } } }`;

describe('cluster: pause and resume from another node', () => {
  it('paused on B while A runs it: every watcher on both nodes sees PAUSED, A stops fetching; resumed on B, it finishes with every page once', async () => {
    const pages = 30;
    const s = await siteForTest({ pages, delayMs: 25 });
    const c = await createCluster();
    deferCleanup(() => c.close());
    const [a, b] = (await Promise.all(['node-a', 'node-b'].map((n) => c.node(n)))) as [TestApp, TestApp];
    const started = await a.gql(START_CRAWL, { input: { url: s.url, maxPages: pages, maxDepth: 5 } });
    const id = started.data!.startCrawl.id as string;
    const watchers = [a, b, b].map((n) => collect<EventPayload>(n.ws(), JOB_PROGRESS, { id }, 'jobProgress'));
    await watchers[0]!.until((e) => e.progress.pagesFetched >= 6);
    const owner = (await b.gql(GET, { id })).data!.execution.node as string;
    const other = owner === 'node-a' ? b : a;

    const paused = await other.gql(`mutation ($id: ID!) { pauseExecution(id: $id) { status node attempt } }`, { id });
    expect(paused.data!.pauseExecution).toMatchObject({ status: 'PAUSED', node: null, attempt: 1 });
    await Promise.all(watchers.map((w) => w.until((e) => e.type === 'STATUS' && e.status === 'PAUSED')));
    await s.waitFor(() => s.inFlight() === 0); // the owner's code stopped
    const pausedAt = watchers[0]!.items.findIndex((e) => e.status === 'PAUSED');
    const storedBefore = new Set(watchers[0]!.items.slice(0, pausedAt).filter((e) => e.type === 'PAGE').map((e) => new URL(e.message!).pathname));

    const resumed = await other.gql(`mutation ($id: ID!) { resumeExecution(id: $id) { status attempt } }`, { id });
    expect(resumed.data!.resumeExecution).toEqual({ status: 'QUEUED', attempt: 2 });
    for (const w of watchers) {
      await w.done;
      expect(w.items.filter((e) => e.type === 'STATUS').map((e) => e.status)).toEqual(['QUEUED', 'RUNNING', 'PAUSED', 'QUEUED', 'RUNNING', 'SUCCEEDED']);
      expect(w.items.map((e) => e.seq)).toEqual(w.items.map((_, i) => i + 1));
    }
    expect((await a.gql(GET, { id })).data!.execution).toMatchObject({ status: 'SUCCEEDED', attempt: 2, progress: { pagesFetched: pages } });
    const counts = new Map(Array.from({ length: pages }, (_, i) => [pagePath(i), 0]));
    for (const p of s.requests) if (counts.has(p)) counts.set(p, counts.get(p)! + 1);
    for (const [path, n] of counts) {
      if (storedBefore.has(path)) expect(n, path).toBe(1);
      else expect([1, 2], path).toContain(n);
    }
  });

  it('claims by priority across nodes: the higher priority is claimed first wherever it is queued', async () => {
    const slow = await siteForTest({ pages: 2, delayMs: 60_000 });
    const s = await siteForTest({ pages: 5 });
    const c = await createCluster();
    deferCleanup(() => c.close());
    const [a, b] = (await Promise.all(['node-a', 'node-b'].map((n) => c.node(n, { maxConcurrent: 1 })))) as [TestApp, TestApp];
    const blockers: string[] = [];
    for (const n of [a, b]) blockers.push((await n.gql(START_CRAWL, { input: { url: `${slow.url}${pagePath(blockers.length)}`, maxPages: 1, maxDepth: 0 } })).data!.startCrawl.id);
    await slow.waitFor(() => slow.inFlight() >= 2); // both nodes' only slot is taken
    const queue = [['low', -5, a], ['high', 7, b], ['mid', 0, a], ['high2', 7, a]] as const;
    const ids: string[] = [];
    for (const [i, [, priority, node]] of queue.entries()) {
      const res = await node.gql(START_CRAWL, { input: { url: `${s.url}${pagePath(i + 1)}`, maxPages: 1, maxDepth: 0, priority } });
      ids.push(res.data!.startCrawl.id);
    }
    const positions = await Promise.all(ids.map(async (id) => (await b.gql(`query ($id: ID!) { execution(id: $id) { queuePosition } }`, { id })).data!.execution.queuePosition));
    expect(positions).toEqual([4, 1, 3, 2]);
    const watchers = ids.map((id) => collect<EventPayload>(a.ws(), JOB_PROGRESS, { id }, 'jobProgress'));
    // free one slot only, so the claims happen one at a time, in the order of the queue
    await a.gql(`mutation ($id: ID!) { cancelExecution(id: $id) { accepted } }`, { id: blockers[0] });
    await Promise.all(watchers.map((w) => w.done));
    const claimed = s.requests.filter((p) => p.startsWith('/page/')).map((p) => queue[Number(p.slice(6)) - 1]![0]);
    expect(claimed).toEqual(['high', 'high2', 'mid', 'low']);
    await a.gql(`mutation ($id: ID!) { cancelExecution(id: $id) { accepted } }`, { id: blockers[1] });
  });
});
