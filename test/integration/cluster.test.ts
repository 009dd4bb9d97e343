import { describe, expect, it } from 'vitest';
import pg from 'pg';
import pino from 'pino';
import { createRedisPubSub } from '../../server/pubsub-redis.ts';
import { POSTGRES_MIGRATIONS } from '../../server/store/postgres/migrations.ts';
import { PostgresStore } from '../../server/store/postgres/postgres-store.ts';
import { pagePath } from '../fixtures/site.ts';
import { deferCleanup, siteForTest } from '../helpers/cleanup.ts';
import { CANCEL, collect, isTerminalEvent, JOB_PROGRESS, START_CRAWL, type Collector, type EventPayload, type TestApp } from '../helpers/app.ts';
import { createCluster, startChildNode, startPrivateRedis, type Cluster } from '../helpers/cluster.ts';
import { freshDatabase } from '../helpers/stores.ts';

const EXECUTION = `query ($id: ID!) { execution(id: $id) { status attempt node error progress { pagesFetched pagesFailed } } }`;

async function cluster(options: Parameters<typeof createCluster>[0] = {}): Promise<Cluster> {
  const c = await createCluster(options);
  deferCleanup(() => c.close());
  return c;
}

async function startCrawl(node: TestApp | string, input: Record<string, unknown>): Promise<string> {
  const url = typeof node === 'string' ? node : node.url;
  const res = await fetch(`${url}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ query: START_CRAWL, variables: { input } }),
  });
  const body = (await res.json()) as { data?: { startCrawl: { id: string } }; errors?: unknown };
  expect(body.errors).toBeUndefined();
  return body.data!.startCrawl.id;
}

const watch = (node: TestApp, id: string): Collector<EventPayload> => collect<EventPayload>(node.ws(), JOB_PROGRESS, { id }, 'jobProgress');

/** A bounded wait for something only a poll can see (a row in the database while pub/sub is down). */
async function eventually<T>(read: () => Promise<T>, ok: (value: T) => boolean, withinMs: number): Promise<T> {
  const deadline = Date.now() + withinMs;
  for (;;) {
    const value = await read();
    if (ok(value) || Date.now() > deadline) return value;
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

describe('cluster: several nodes on PostgreSQL and Redis', () => {
  it('started on A, watched from B and C, cancelled from another node: every watcher gets CANCELLED and the site no further request', async () => {
    const s = await siteForTest({ pages: 200, delayMs: 60_000 });
    const c = await cluster();
    const nodes = await Promise.all(['node-a', 'node-b', 'node-c'].map((n) => c.node(n)));
    const [a, b, cc] = nodes as [TestApp, TestApp, TestApp];
    const id = await startCrawl(a, { url: s.url, maxPages: 200 });
    const watchers = [a, b, b, cc, cc].map((n) => watch(n, id));
    await s.waitFor(() => s.inFlight() > 0);
    const owner = (await cc.gql(EXECUTION, { id })).data!.execution.node as string;
    const canceller = owner === 'node-c' ? b : cc; // a cancel from a node that does not run it

    const res = await canceller.gql(CANCEL, { id, reason: 'stop from elsewhere' });
    expect(res.data!.cancelExecution).toMatchObject({ accepted: true, execution: { status: 'CANCELLING' } });
    for (const w of watchers) {
      await w.done;
      expect(w.items.at(-1)).toMatchObject({ type: 'STATUS', status: 'CANCELLED' });
      expect(w.items.filter(isTerminalEvent)).toHaveLength(1);
      expect(w.items.map((e) => e.seq)).toEqual(w.items.map((_, i) => i + 1));
    }
    for (const n of nodes) expect(n.app.engine.runningIds()).toEqual([]);
    await s.waitFor(() => s.inFlight() === 0);
    const requestsAtCancel = s.requestCount();
    expect((await b.gql(EXECUTION, { id })).data!.execution).toMatchObject({ status: 'CANCELLED', node: null });
    await new Promise((resolve) => setTimeout(resolve, 300)); // a window for a stray request to show up
    expect(s.requestCount()).toBe(requestsAtCancel);
  });

  it('keeps the per-node cap across nodes and claims no execution twice (20 crawls, 3 nodes, cap 2)', async () => {
    const page = { headers: { 'content-type': 'text/html' }, body: '<title>t</title><p>a page with no links</p>', delayMs: 150 };
    const s = await siteForTest({ routes: Object.fromEntries(Array.from({ length: 20 }, (_, i) => [`/?c=${i}`, page])) });
    const c = await cluster();
    const nodes = await Promise.all(['node-a', 'node-b', 'node-c'].map((n) => c.node(n, { maxConcurrent: 2 })));
    // A monitor of the truth (the rows), sampled while the crawls run.
    const monitor = new pg.Client({ connectionString: c.databaseUrl });
    await monitor.connect();
    deferCleanup(() => monitor.end());
    let maxTotal = 0;
    let maxPerNode = 0;
    const usedNodes = new Set<string>();
    let sampling = true;
    const sampler = (async () => {
      while (sampling) {
        const { rows } = await monitor.query<{ node: string; n: string }>(
          `SELECT node, count(*) AS n FROM executions WHERE status = 'RUNNING' GROUP BY node`,
        );
        const counts = rows.map((r) => Number(r.n));
        rows.forEach((r) => usedNodes.add(r.node));
        maxTotal = Math.max(maxTotal, counts.reduce((x, y) => x + y, 0));
        maxPerNode = Math.max(maxPerNode, ...counts, 0);
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
    })();

    const ids = await Promise.all(
      Array.from({ length: 20 }, (_, i) => startCrawl(nodes[i % 3]!, { url: `${s.url}/?c=${i}`, maxPages: 1, respectRobotsTxt: false })),
    );
    const watchers = ids.map((id, i) => watch(nodes[(i + 1) % 3]!, id));
    await Promise.all(watchers.map((w) => w.done));
    sampling = false;
    await sampler;

    expect(maxTotal).toBeLessThanOrEqual(6);
    expect(maxPerNode).toBeLessThanOrEqual(2);
    expect(usedNodes.size).toBe(3);
    for (const w of watchers) {
      expect(w.items.filter(isTerminalEvent).map((e) => e.status)).toEqual(['SUCCEEDED']);
      expect(w.items.filter((e) => e.type === 'STATUS' && e.status === 'RUNNING' && e.message?.startsWith('started on'))).toHaveLength(1);
    }
    const { rows } = await monitor.query<{ status: string; attempt: number }>('SELECT status, attempt FROM executions');
    expect(rows).toHaveLength(20);
    expect(rows.every((r) => r.status === 'SUCCEEDED' && r.attempt === 1)).toBe(true);
    for (let i = 0; i < 20; i++) expect(s.requests.filter((p) => p === `/?c=${i}`)).toHaveLength(1);
  });

  it('work queued on a full node starts on a node with room at once, not at its next heartbeat', async () => {
    const slow = { headers: { 'content-type': 'text/html' }, body: '<title>slow</title><p>slow</p>', delayMs: 60_000 };
    const s = await siteForTest({ routes: { '/?n=1': slow, '/?n=2': slow } });
    const c = await cluster();
    // Heartbeats far apart: only the doorbell can make B claim the second crawl within the test.
    const slowBeat = { maxConcurrent: 1, heartbeatMs: 60_000, leaseMs: 120_000 };
    const a = await c.node('node-a', slowBeat);
    const b = await c.node('node-b', slowBeat);
    const first = await startCrawl(a, { url: `${s.url}/?n=1` });
    await s.waitFor(() => s.inFlight() === 1);
    const firstOwner = (await a.gql(EXECUTION, { id: first })).data!.execution.node as string;
    const full = firstOwner === 'node-a' ? a : b;
    const other = full === a ? 'node-b' : 'node-a';
    const second = await startCrawl(full, { url: `${s.url}/?n=2` });
    const started = await watch(full, second).until((e) => e.status === 'RUNNING');
    expect(started.message).toBe(`started on ${other}`);
    await s.waitFor(() => s.inFlight() === 2);
  });

  it('kill -9 of a node in the middle of a crawl: another node takes it over (attempt 2) and finishes it without re-fetching', async () => {
    const pages = 60;
    const s = await siteForTest({ pages, delayMs: 40 });
    const c = await cluster();
    const child = await startChildNode(c, 'node-child');
    deferCleanup(() => child.kill());
    const id = await startCrawl(child.url, { url: s.url, maxPages: pages, maxDepth: 5 });
    await s.waitFor(() => s.requestCount() >= 15);
    // Node B joins once the child runs the crawl, so the child is sure to be its owner.
    const b = await c.node('node-b');
    const watcher = watch(b, id);
    expect((await b.gql(EXECUTION, { id })).data!.execution.node).toBe('node-child');
    await child.kill('SIGKILL');
    const killedAt = performance.now();
    const fetchedBefore = s.requestCount();

    await watcher.until((e) => e.type === 'STATUS' && e.status === 'RUNNING' && e.message === 'resumed on node-b (attempt 2)');
    const takeoverMs = performance.now() - killedAt;
    expect(takeoverMs).toBeLessThan(5000); // lease 3 s + one heartbeat + the claim: within the 5 s promise
    await watcher.done;
    expect(watcher.items.some((e) => e.status === 'QUEUED' && e.message?.includes('resuming from the checkpoint'))).toBe(true);
    expect(watcher.items.map((e) => e.seq)).toEqual(watcher.items.map((_, i) => i + 1));
    const final = (await b.gql(EXECUTION, { id })).data!.execution;
    expect(final).toMatchObject({ status: 'SUCCEEDED', attempt: 2, progress: { pagesFetched: pages, pagesFailed: 0 } });
    expect(s.requestCount()).toBeGreaterThan(fetchedBefore);
    const generated = new Set(Array.from({ length: pages }, (_, i) => pagePath(i)));
    const counts = new Map<string, number>();
    for (const p of s.requests) if (generated.has(p)) counts.set(p, (counts.get(p) ?? 0) + 1);
    expect([...counts.values()].filter((n) => n > 1).length).toBeLessThanOrEqual(8); // at most those in flight
  });

  it('a cancel while Redis is down still ends the execution within one heartbeat; /ready names Redis as down', async () => {
    const redis = await startPrivateRedis();
    deferCleanup(() => redis.kill());
    const s = await siteForTest({ pages: 50, delayMs: 60_000 });
    const c = await cluster({ redisUrl: redis.url });
    const a = await c.node('node-a');
    const b = await c.node('node-b');
    const id = await startCrawl(a, { url: s.url, maxPages: 50 });
    await s.waitFor(() => s.inFlight() > 0);
    const owner = (await b.gql(EXECUTION, { id })).data!.execution.node as string;
    const canceller = owner === 'node-a' ? b : a;
    await redis.kill();

    const ready = await fetch(`${b.url}/ready`);
    expect(ready.status).toBe(503);
    expect(await ready.json()).toMatchObject({ status: 'unavailable', redis: 'down' });
    const cancelledAt = performance.now();
    const res = await canceller.gql(CANCEL, { id, reason: 'while redis is down' });
    expect(res.data!.cancelExecution).toMatchObject({ accepted: true });
    await s.waitFor(() => s.inFlight() === 0); // the owner's heartbeat re-read the tombstone and aborted
    const stoppedMs = performance.now() - cancelledAt;
    const heartbeatMs = a.app.config.heartbeatMs;
    expect(stoppedMs).toBeLessThan(heartbeatMs + 500);
    const row = await eventually(() => b.app.store.getExecution(id), (e) => e?.status === 'CANCELLED', heartbeatMs);
    expect(row?.status).toBe('CANCELLED');
  });

  it('Redis restarts: no crash, and subscriptions resume', async () => {
    const redis = await startPrivateRedis();
    deferCleanup(() => redis.kill());
    const log = pino({ level: 'silent' });
    const prefix = 'restart-test:';
    const [x, y] = [createRedisPubSub(redis.url, { prefix, log }), createRedisPubSub(redis.url, { prefix, log })];
    deferCleanup(() => Promise.all([x.close(), y.close()]));
    const received: string[] = [];
    const waiters: (() => void)[] = [];
    void (async () => {
      for await (const r of x.pubsub.subscribe('execution:cancel', 'n1')) {
        received.push(r.executionId);
        waiters.splice(0).forEach((w) => w());
      }
    })();
    const next = (n: number) => new Promise<void>((resolve) => (received.length >= n ? resolve() : waiters.push(() => received.length >= n && resolve())));
    await eventually(() => x.ping().then(() => true, () => false), Boolean, 2000);
    await eventually(() => y.ping().then(() => true, () => false), Boolean, 2000);
    y.pubsub.publish('execution:cancel', 'n1', { executionId: 'first' });
    await next(1);

    await redis.kill();
    await expect(x.ping()).rejects.toThrow();
    y.pubsub.publish('execution:cancel', 'n1', { executionId: 'while-down' }); // queued or dropped; never a crash
    await redis.start();
    await eventually(() => Promise.all([x.ping(), y.ping()]).then(() => true, () => false), Boolean, 5000);
    y.pubsub.publish('execution:cancel', 'n1', { executionId: 'after' });
    await next(received.includes('while-down') ? 3 : 2);
    expect(received).toContain('after');
  });

  it('two nodes starting at once on an empty database both come up (the migrations race)', async () => {
    const db = await freshDatabase();
    deferCleanup(() => db.drop());
    const stores = Array.from({ length: 4 }, () => new PostgresStore(db.url, { maxConnections: 2 }));
    deferCleanup(() => Promise.all(stores.map((st) => st.close())));
    await Promise.all(stores.map((st) => st.migrate()));
    const c = await cluster();
    const [a, b] = await Promise.all([c.node('node-a'), c.node('node-b')]);
    for (const n of [a, b]) expect((await fetch(`${n.url}/ready`)).status).toBe(200);
    const { rows } = await stores[0]!.pool.query('SELECT version FROM schema_migrations ORDER BY version');
    // every migration applied exactly once, whichever node ran it
    expect(rows.map((r) => r.version)).toEqual(POSTGRES_MIGRATIONS.map((_, i) => i + 1));
  });

  it('PostgreSQL drops every connection in the middle of a crawl: the crawl still ends SUCCEEDED, its log whole', async () => {
    const pages = 40;
    const s = await siteForTest({ pages, delayMs: 30 });
    const c = await cluster();
    const a = await c.node('node-a');
    const id = await startCrawl(a, { url: s.url, maxPages: pages, maxDepth: 5 });
    const watcher = watch(a, id);
    await s.waitFor(() => s.requestCount() >= 10);
    const admin = new pg.Client({ connectionString: c.databaseUrl });
    await admin.connect();
    await admin.query('SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()');
    await admin.end();
    await watcher.done;
    expect(watcher.items.at(-1)).toMatchObject({ type: 'STATUS', status: 'SUCCEEDED' });
    expect(watcher.items.map((e) => e.seq)).toEqual(watcher.items.map((_, i) => i + 1));
    expect((await a.gql(EXECUTION, { id })).data!.execution).toMatchObject({ status: 'SUCCEEDED', progress: { pagesFetched: pages } });
  });
});
