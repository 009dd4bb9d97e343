// Runs one fault schedule against real parts (a SQLite file or a fresh PostgreSQL database, Redis,
// local HTTP sites, the real app over HTTP and graphql-ws) and checks the invariants afterwards.
import { randomUUID } from 'node:crypto';
import { inspect } from 'node:util';
import { join } from 'node:path';
import { createClient, type Client } from 'graphql-ws';
import WebSocket from 'ws';
import { isTerminal, TRANSITIONS, type ExecutionStatus } from '../../server/executions/status.ts';
import type { Execution, ExecutionEvent } from '../../server/executions/types.ts';
import { PostgresStore } from '../../server/store/postgres/postgres-store.ts';
import { SqliteStore } from '../../server/store/sqlite/sqlite-store.ts';
import type { Store } from '../../server/store/store.ts';
import { startSite, type Site } from '../fixtures/site.ts';
import { CANCEL, collect, JOB_PROGRESS, START_CRAWL, startTestApp, type Collector, type EventPayload, type TestApp } from '../helpers/app.ts';
import { startChildNode, TEST_REDIS_URL, type ChildNode, type PrivateRedis } from '../helpers/cluster.ts';
import { freshDatabase, tempDir, TEST_POSTGRES_URL } from '../helpers/stores.ts';
import { faultyStore, NO_FAULTS, type FaultyStore } from './fault-store.ts';
import { startTcpProxy, throughProxy, type TcpProxy } from '../fixtures/tcp-proxy.ts';
import { createRng } from './prng.ts';
import { watchSentRequests } from './sent-requests.ts';
import { TIMING, type Schedule, type Step } from './schedule.ts';
import { describeTrace, DIAG, loopLag, poolOf, sampleBackends, stallsNear, traceEngine, type EngineTrace } from './diagnose.ts';
import type { Engine } from '../../server/engine/engine.ts';
import { IDLE_REFILL_MS } from '../../server/streams/execution-feed.ts';

/** What a runner shares between schedules: a private Redis the schedules may restart. */
export interface ChaosEnv {
  redis: PrivateRedis | null;
  /** Set while a schedule restarts the Redis. */
  restarting?: boolean;
}

export interface Report {
  seed: number;
  dialect: Schedule['dialect'];
  family: Schedule['family'];
  /** Invariant checks made (one per execution, cancel, subscription, node... per invariant). */
  checks: number;
  violations: string[];
  /** Accepted cancel -> CANCELLED, for cancels no partition, restart or outage overlapped. */
  cancelLatenciesMs: number[];
  /** The same for cancels that a fault overlapped (not held to the bound). */
  faultedCancelLatenciesMs: number[];
  executions: number;
  /** Pauses answered PAUSED, and resumes answered QUEUED or RUNNING (one and bulk). */
  pauses: number;
  resumes: number;
  storeCalls: number;
  storeFaults: number;
  durationMs: number;
}

/** Accepted cancel => CANCELLED within grace + one heartbeat, plus this much for a loaded machine. */
export const CANCEL_SLACK_MS = 1000;
/** Child-process nodes (whose sends this process cannot see): a request arriving this long after its crawl's end was sent after it. */
export const REQUEST_SLACK_MS = 100;

interface Node {
  index: number;
  generation: number;
  app: TestApp | null;
  child: ChildNode | null;
  faults: FaultyStore | null;
  proxy: TcpProxy | null;
  /** Cut off for good (a kill -9 simulated in-process): its code may run on, its writes cannot land. */
  zombies: { app: TestApp; faults: FaultyStore | null; proxy: TcpProxy | null }[];
}

interface Subscription {
  crawl: number;
  executionId: string;
  afterSeq: number;
  collector: Collector<EventPayload>;
  /** Left by its client (leave, reconnect, its node stopped): not expected to reach the end. */
  left: boolean;
  /** The subscription that continued this one after a reconnect. */
  continuedBy: Subscription | null;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

const CANCEL_MANY = /* GraphQL */ `
  mutation { cancelExecutions(kind: CRAWL, reason: "chaos: cancel all") { cancelled executions { id status } } }
`;
const PAUSE = `mutation ($id: ID!) { pauseExecution(id: $id, reason: "chaos") { id status } }`;
const RESUME = `mutation ($id: ID!) { resumeExecution(id: $id) { id status } }`;
const PAUSE_MANY = `mutation { pauseExecutions(kind: CRAWL, reason: "chaos: pause all") { affected executions { id status } } }`;
const RESUME_MANY = `mutation { resumeExecutions(kind: CRAWL) { affected executions { id status } } }`;

/** A move the status machine has, from one status to another. */
const LEGAL = new Set(Object.values(TRANSITIONS).flatMap((t) => (t.from as readonly ExecutionStatus[]).map((from) => `${from}>${t.to}`)));

/** Runs `schedule` and checks the invariants; never throws for a violation (they are reported). */
export async function runSchedule(schedule: Schedule, env: ChaosEnv, where: { stage: string } = { stage: '' }): Promise<Report> {
  const began = performance.now();
  const violations: string[] = [];
  let checks = 0;
  const check = (ok: boolean, message: () => string): void => {
    checks++;
    if (!ok) violations.push(message());
  };
  const undo: (() => Promise<unknown> | unknown)[] = [];
  const unhandled: unknown[] = [];
  const onUnhandled = (reason: unknown) => void unhandled.push(reason);
  process.on('unhandledRejection', onUnhandled);
  const route = createRng(schedule.seed).fork('route');
  const postgres = schedule.dialect === 'postgres';
  const bound = TIMING.cancelGraceMs + TIMING.heartbeatMs;

  const report: Report = {
    seed: schedule.seed,
    dialect: schedule.dialect,
    family: schedule.family,
    checks: 0,
    violations,
    cancelLatenciesMs: [],
    faultedCancelLatenciesMs: [],
    executions: 0,
    pauses: 0,
    resumes: 0,
    storeCalls: 0,
    storeFaults: 0,
    durationMs: 0,
  };

  try {
    where.stage = 'setup';
    // Sites: one per crawl, so its requests, pages and chunks are its own.
    const sites: Site[] = await Promise.all(schedule.crawls.map((c) => startSite({ pages: c.pages, delayMs: c.delayMs })));
    undo.push(() => Promise.all(sites.map((s) => s.close())));
    // When each request arrived (the site calls a waitFor predicate as each request starts).
    const arrivals: number[][] = sites.map(() => []);
    sites.forEach((site, i) => {
      site.waitFor(() => {
        while (arrivals[i]!.length < site.requestCount()) arrivals[i]!.push(Date.now());
        return false;
      }).catch(() => {});
    });
    // When in-process nodes sent each request (arrival can trail it on a loaded machine).
    const sends = watchSentRequests(sites.map((s) => s.url));
    undo.push(() => sends.stop());

    // The store: a SQLite file, or a database of its own; the reader sees it without faults.
    const dir = tempDir('sluice-chaos-');
    undo.push(() => dir.remove());
    let databaseUrl: string | null = null;
    if (postgres) {
      const db = await freshDatabase();
      undo.push(() => db.drop());
      databaseUrl = db.url;
    }
    const redisUrl = postgres ? (env.redis?.url ?? TEST_REDIS_URL) : null;
    const redisPrefix = `sluice-chaos-${randomUUID().slice(0, 8)}:`;

    const storeCounts = { calls: 0, faults: 0 };
    const countStats = (f: FaultyStore | null) => {
      if (!f) return;
      storeCounts.calls += f.stats.calls;
      storeCounts.faults += f.stats.failedBefore + f.stats.failedAfter + f.stats.delayed;
    };

    const nodes: Node[] = Array.from({ length: schedule.nodes }, (_, index) => ({
      index, generation: 0, app: null, child: null, faults: null, proxy: null, zombies: [],
    }));
    const nodeIdOf = (n: Node) => (postgres ? `n${n.index}.${n.generation}` : 'solo');

    const startNode = async (n: Node): Promise<void> => {
      const proxy = postgres ? await startTcpProxy(new URL(TEST_POSTGRES_URL).hostname, Number(new URL(TEST_POSTGRES_URL).port || 5432)) : null;
      n.proxy = proxy;
      const config = {
        nodeId: nodeIdOf(n),
        dataDir: dir.path,
        databaseUrl: databaseUrl && proxy ? throughProxy(databaseUrl, proxy) : null,
        redisUrl,
        redisPrefix,
        maxConcurrent: 3,
        // Schedules run side by side on a shared server (max_connections): a few connections per node.
        databasePoolSize: 4,
        ...TIMING,
      };
      if (schedule.family === 'process') {
        n.child = await startChildNode(
          { databaseUrl: config.databaseUrl ?? '', redisUrl: redisUrl ?? '', redisPrefix },
          config.nodeId,
          {
            SLUICE_DATA_DIR: dir.path,
            ...(postgres ? {} : { DATABASE_URL: '', REDIS_URL: '' }),
            SLUICE_CANCEL_GRACE_MS: String(TIMING.cancelGraceMs),
            SLUICE_HEARTBEAT_MS: String(TIMING.heartbeatMs),
            SLUICE_LEASE_MS: String(TIMING.leaseMs),
            SLUICE_PROGRESS_INTERVAL_MS: String(TIMING.progressIntervalMs),
            SLUICE_MAX_CONCURRENT: '3',
            SLUICE_DATABASE_POOL_SIZE: '4',
            LOG_LEVEL: 'silent',
          },
        );
        return;
      }
      n.app = await startTestApp({
        ...config,
        wrapStore: (store) => (n.faults = faultyStore(store, schedule.seed, `${nodeIdOf(n)}`)).store,
      });
      traces.push({ engine: n.app.app.engine, store: n.app.app.store, trace: traceEngine(n.app.app.engine, config.nodeId) });
      recordStops(n.app.app.engine);
    };
    // When the code of each execution was told to stop (its signal fired: a cancel, a pause, a lost
    // row, a self-fence, a shutdown), on in-process nodes. A stop commits first and reaches the code
    // after (over Redis when another node made it, or through a heartbeat's re-read when that
    // message is lost): a request the code sent between the two was sent before it could know.
    const fired = new Map<string, number[]>();
    const recordStops = (engine: Engine): void => {
      const e = engine as unknown as { abortLocal(r: { execution: Execution; cause: string | null }, cause: string, message: string): void };
      const abortLocal = e.abortLocal.bind(engine);
      e.abortLocal = (r, cause, message) => {
        if (!r.cause) fired.set(r.execution.id, [...(fired.get(r.execution.id) ?? []), Date.now()]);
        abortLocal(r, cause, message);
      };
    };
    /**
     * From when requests to the site of `id` break "nothing after its stop" (a PAUSED, an end), the
     * stop's event being at `stopAt` in a log whose last RUNNING before it was at `runningAt`: once
     * the code's signal fired, if it fired within the design's bound (the doorbell, or the re-read of
     * the next heartbeat, which may itself come a heartbeat late as a renewal may), else from the stop.
     */
    const stoppedFrom = (id: string, runningAt: number, stopAt: number, allowed: number): number => {
      const signal = (fired.get(id) ?? []).find((t) => t >= runningAt);
      return signal !== undefined && signal <= stopAt + 2 * TIMING.heartbeatMs + allowed ? Math.max(signal, stopAt) : stopAt + allowed;
    };
    const runningBefore = (events: readonly ExecutionEvent[], at: number): number =>
      events.filter((x) => x.type === 'STATUS' && x.status === 'RUNNING' && x.at <= at).at(-1)?.at ?? at;
    const traces: { engine: Engine; store: Store; trace: EngineTrace }[] = [];
    let backends: ReturnType<typeof sampleBackends> | null = null;
    const diag = (id: string, at: number, windowMs = 1500): string =>
      ` || ${stallsNear(at, windowMs)}` +
      (DIAG
        ? ` || ${loopLag()} || ${traces.map((t) => `${describeTrace(t.trace, t.engine, id, at)} ${poolOf(t.store)}`).join(' || ')} || backends ${backends?.describe(at) ?? ''}`
        : '');
    const stopNode = async (n: Node, cutOff = false): Promise<void> => {
      const { app, child, proxy, faults } = n;
      n.app = null;
      n.child = null;
      n.faults = null;
      n.proxy = null;
      countStats(faults);
      if (!cutOff) {
        faults?.heal();
        faults?.setRates(NO_FAULTS);
      }
      if (app) await app.stop();
      if (child) await child.kill('SIGTERM');
      await proxy?.close();
    };
    undo.push(async () => {
      for (const n of nodes) {
        await stopNode(n);
        for (const z of n.zombies.splice(0)) {
          countStats(z.faults);
          await z.app.stop();
          await z.proxy?.close();
        }
      }
    });
    for (const n of nodes) await startNode(n);

    const reader: Store = postgres ? new PostgresStore(databaseUrl!, { maxConnections: 2 }) : new SqliteStore(join(dir.path, 'sluice.db'));
    undo.push(() => reader.close());
    if (postgres && DIAG) {
      const sampler = sampleBackends((sql) => (reader as PostgresStore).pool.query(sql));
      backends = sampler;
      undo.push(() => sampler.stop());
    }

    // -- what the run observes -------------------------------------------------------------------
    const executionOf: (string | null)[] = schedule.crawls.map(() => null);
    const accepted: { id: string; requestedAt: number }[] = [];
    /** Pauses answered PAUSED; when each resume (of one id, or of all: id null) was sent. */
    const paused: { id: string; answeredAt: number }[] = [];
    const resumeSent: { id: string | null; at: number }[] = [];
    const faultWindows: [number, number][] = [];
    const openWindow = () => {
      const w: [number, number] = [Date.now(), Infinity];
      faultWindows.push(w);
      return () => void (w[1] = Date.now());
    };
    const clients: (Client | null)[] = Array.from({ length: schedule.clients }, () => null);
    const clientNode: (Node | null)[] = clients.map(() => null);
    const subscriptions: Subscription[] = [];
    const pending: Promise<unknown>[] = [];
    let closing = false;
    const starting = new Set<number>();

    const liveNodes = () => nodes.filter((n) => n.app || n.child);
    const urlOf = (n: Node) => n.app?.url ?? n.child!.url;
    const pickNode = (): Node | null => {
      const live = liveNodes();
      return live.length ? route.pick(live) : null;
    };
    const gql = async (query: string, variables?: Record<string, unknown>) => {
      const n = pickNode();
      if (!n) return null;
      const res = await fetch(`${urlOf(n)}/graphql`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ query, variables }),
      }).catch(() => null);
      if (!res) return null;
      return (await res.json().catch(() => null)) as { data?: Record<string, any>; errors?: unknown[] } | null;
    };
    const clientFor = (c: number): Client | null => {
      if (clients[c]) return clients[c];
      const n = pickNode();
      if (!n) return null;
      clientNode[c] = n;
      return (clients[c] = createClient({ url: `${urlOf(n).replace('http', 'ws')}/graphql`, webSocketImpl: WebSocket, retryAttempts: 0, lazy: true }));
    };
    const leave = (c: number): void => {
      for (const s of subscriptions) if (s.collector && subscriptionClient.get(s) === c && !s.left) s.left = true;
      void Promise.resolve(clients[c]?.dispose()).catch(() => {});
      clients[c] = null;
      clientNode[c] = null;
    };
    const subscriptionClient = new Map<Subscription, number>();
    const subscribe = (c: number, crawl: number, afterSeq: number): Subscription | null => {
      const id = executionOf[crawl];
      const client = id ? clientFor(c) : null;
      if (!id || !client) return null;
      const s: Subscription = { crawl, executionId: id, afterSeq, collector: collect<EventPayload>(client, JOB_PROGRESS, { id, after: afterSeq }, 'jobProgress'), left: false, continuedBy: null };
      subscriptions.push(s);
      subscriptionClient.set(s, c);
      // An error (its node lost its database, or stopped) is what a real client answers by
      // subscribing again after the last seq it saw, on a fresh connection.
      s.collector.done.catch(() => {
        if (s.left || closing) return;
        s.left = true;
        if (clients[c] === client) leave(c);
        setTimeout(() => {
          if (!closing) s.continuedBy = subscribe(c, crawl, lastSeen(s));
        }, 50);
      });
      return s;
    };
    const lastSeen = (s: Subscription) => s.collector.items.at(-1)?.seq ?? s.afterSeq;

    const runStep = async (step: Step): Promise<void> => {
      switch (step.op) {
        case 'start': {
          if (executionOf[step.crawl] || starting.has(step.crawl)) return;
          starting.add(step.crawl);
          const site = sites[step.crawl]!;
          const res = await gql(START_CRAWL, { input: { url: site.url, maxPages: schedule.crawls[step.crawl]!.pages, maxDepth: 6 } });
          const id = res?.data?.startCrawl?.id as string | undefined;
          if (id) executionOf[step.crawl] = id;
          // Unanswered (its node failed): the crawl may exist all the same; the final checks find it by its URL.
          starting.delete(step.crawl);
          return;
        }
        case 'cancel': {
          const id = executionOf[step.crawl];
          if (!id) return;
          const requestedAt = Date.now();
          const res = await gql(CANCEL, { id, reason: 'chaos' });
          if (res?.data?.cancelExecution?.accepted) accepted.push({ id, requestedAt });
          return;
        }
        case 'cancelAll': {
          const requestedAt = Date.now();
          const res = await gql(CANCEL_MANY);
          for (const e of (res?.data?.cancelExecutions?.executions ?? []) as { id: string; status: string }[]) {
            if (e.status === 'CANCELLING' || e.status === 'CANCELLED') accepted.push({ id: e.id, requestedAt });
          }
          return;
        }
        case 'pause': {
          const id = executionOf[step.crawl];
          if (!id) return;
          const res = await gql(PAUSE, { id });
          if (res?.data?.pauseExecution?.status === 'PAUSED') paused.push({ id, answeredAt: Date.now() });
          return;
        }
        case 'pauseAll': {
          const res = await gql(PAUSE_MANY);
          const answeredAt = Date.now();
          for (const e of (res?.data?.pauseExecutions?.executions ?? []) as { id: string; status: string }[]) {
            if (e.status === 'PAUSED') paused.push({ id: e.id, answeredAt });
          }
          return;
        }
        case 'resume': {
          const id = executionOf[step.crawl];
          if (!id) return;
          resumeSent.push({ id, at: Date.now() });
          const res = await gql(RESUME, { id });
          if (res?.data?.resumeExecution) report.resumes++;
          return;
        }
        case 'resumeAll': {
          resumeSent.push({ id: null, at: Date.now() });
          const res = await gql(RESUME_MANY);
          report.resumes += (res?.data?.resumeExecutions?.affected as number | undefined) ?? 0;
          return;
        }
        case 'subscribe': {
          const id = executionOf[step.crawl];
          if (!id) return;
          const row = step.fromStart ? null : await reader.getExecution(id).catch(() => null);
          subscribe(step.client, step.crawl, row ? route.int(0, row.lastSeq) : 0);
          return;
        }
        case 'leave':
          leave(step.client);
          return;
        case 'reconnect': {
          const c = step.client;
          const mine = subscriptions.filter((s) => subscriptionClient.get(s) === c && !s.left);
          leave(c);
          for (const s of mine) s.continuedBy = subscribe(c, s.crawl, lastSeen(s));
          return;
        }
        case 'rates':
          nodes[step.node]?.faults?.setRates(step.rates);
          return;
        case 'partition': {
          const faults = nodes[step.node]?.faults;
          if (!faults) return;
          const close = openWindow();
          faults.partition();
          await sleep(step.ms);
          faults.heal();
          close();
          return;
        }
        case 'restart':
        case 'kill': {
          const n = nodes[step.node]!;
          if (!n.app && !n.child) return;
          const close = openWindow();
          const signal = step.op === 'kill' ? step.signal : (step as { signal?: string }).signal ?? 'SIGTERM';
          for (let c = 0; c < clients.length; c++) if (clientNode[c] === n) leave(c);
          if (n.child) {
            const child = n.child;
            n.child = null;
            await child.kill(signal as NodeJS.Signals);
            await n.proxy?.close();
          } else if (signal === 'SIGKILL' && n.app && !postgres) {
            // One SQLite process per folder (its lock): cut off from the database, then gone; the
            // rows it could not release are what the next process recovers at start-up.
            n.faults?.partition();
            await stopNode(n, true);
          } else if (signal === 'SIGKILL' && n.app) {
            // In-process stand-in for kill -9: the node is cut off from its database for good.
            n.faults?.partition();
            n.proxy?.refuse(true);
            n.proxy?.dropAll();
            n.zombies.push({ app: n.app, faults: n.faults, proxy: n.proxy });
            n.app = null;
            n.faults = null;
            n.proxy = null;
          } else {
            await stopNode(n);
          }
          await sleep('downMs' in step ? step.downMs : 0);
          n.generation++;
          await startNode(n);
          close();
          return;
        }
        case 'dropConnections': {
          const close = openWindow();
          nodes[step.node]?.proxy?.dropAll();
          // The pool notices on its next use; a short window covers the reconnects.
          await sleep(TIMING.heartbeatMs);
          close();
          return;
        }
        case 'restartRedis': {
          // One restart at a time: schedules running side by side share this Redis.
          if (!env.redis || !postgres || env.restarting) return;
          const close = openWindow();
          env.restarting = true;
          try {
            await env.redis.kill();
            await sleep(step.downMs);
            await env.redis.start();
          } finally {
            env.restarting = false;
            close();
          }
          return;
        }
      }
    };

    // -- the schedule -----------------------------------------------------------------------------
    for (const { gapMs, step } of schedule.steps) {
      await sleep(gapMs);
      pending.push(runStep(step).catch((error: unknown) => violations.push(`step ${JSON.stringify(step)} threw: ${String(error)}`)));
    }
    await Promise.all(pending);

    where.stage = 'settle';
    // -- heal, settle, then stop everything -------------------------------------------------------
    
    for (const n of nodes) {
      n.faults?.setRates(NO_FAULTS);
      n.faults?.heal();
    }
    await sleep(TIMING.leaseMs + 3 * TIMING.heartbeatMs);

    // Nothing RUNNING without a live lease held by a node whose code runs it.
    const now = Date.now();
    const runningRows = await reader.listExecutions({ statuses: ['RUNNING'], limit: 1000 });
    const runningHere = () => new Set(liveNodes().flatMap((n) => n.app?.app.engine.runningIds() ?? []));
    const noCode = runningRows.filter((row) => !runningHere().has(row.id));
    for (const row of runningRows) {
      // A renewal may come up to a heartbeat late on a loaded machine; later than that, nobody renews it.
      const ok = (row.leaseUntil ?? 0) > now - TIMING.heartbeatMs;
      const story = ok ? '' : statusStory(await reader.listEvents(row.id, 0, 100_000), now);
      check(ok, () => `${row.id} is RUNNING on ${row.node} with a lease that ran out ${now - (row.leaseUntil ?? 0)} ms ago (${story})${diag(row.id, now)}`);
    }
    if (schedule.family === 'engine') {
      // A row claimed as it was listed (one resumed after a release) has no code until its node has
      // read the claim's answer, which a loaded event loop reads late (or never: the answer lost).
      // What the design bounds is that row's lease: nobody renews a row no code runs, so the lease
      // runs out and a sweep takes it within a heartbeat. Stuck: still RUNNING at that attempt with
      // no code a heartbeat after that (as for a renewal), or renewed all the same.
      for (const row of noCode) {
        const deadline = (row.leaseUntil ?? now) + 2 * TIMING.heartbeatMs;
        let later: Execution | null = row;
        while (later?.status === 'RUNNING' && later.attempt === row.attempt && !runningHere().has(row.id) && Date.now() < deadline) {
          await sleep(20);
          later = await reader.getExecution(row.id);
        }
        const stuck = later?.status === 'RUNNING' && later.attempt === row.attempt && !runningHere().has(row.id);
        const story = stuck ? statusStory(await reader.listEvents(row.id, 0, 100_000), Date.now()) : '';
        check(!stuck, () => `${row.id} is RUNNING on ${row.node}, and no live node runs its code, its lease ran out ${Date.now() - (later?.leaseUntil ?? 0)} ms ago (${story})${diag(row.id, Date.now())}`);
      }
    }

    where.stage = 'final cancel';
    const finalCancelAt = Date.now();
    const final = await gql(CANCEL_MANY);
    for (const e of (final?.data?.cancelExecutions?.executions ?? []) as { id: string; status: string }[]) {
      if (e.status === 'CANCELLING' || e.status === 'CANCELLED') accepted.push({ id: e.id, requestedAt: finalCancelAt });
    }
    check(final !== null && !final.errors, () => `the final cancelExecutions failed: ${JSON.stringify(final?.errors)}`);

    // Everything ends within the bound after the final cancel (or was already ended).
    // Every execution in the store, also those whose start was never answered.
    const ids = (await reader.listExecutions({ limit: 10_000 })).map((r) => r.id);
    report.executions = ids.length;
    const deadline = Date.now() + bound + TIMING.leaseMs + 1000;
    let rows: Execution[] = [];
    for (;;) {
      rows = (await Promise.all(ids.map((id) => reader.getExecution(id)))).filter((r): r is Execution => r !== null);
      if (rows.every((r) => isTerminal(r.status)) || Date.now() > deadline) break;
      await sleep(20);
    }
    for (const row of rows) check(isTerminal(row.status), () => `${row.id} still ${row.status} ${Date.now() - finalCancelAt} ms after the final cancel (node ${row.node}, attempt ${row.attempt})`);
    const crawlOf = (row: Execution) => sites.findIndex((s) => (row.input as { url?: string }).url?.startsWith(s.url));
    const bySite = new Map<number, Execution[]>();
    for (const row of rows) bySite.set(crawlOf(row), [...(bySite.get(crawlOf(row)) ?? []), row]);

    where.stage = 'checks';
    // Event logs: seq 1..n with no gap, lastSeq = n, nothing after the terminal event, CANCELLING ends CANCELLED.
    const logs = new Map<string, ExecutionEvent[]>();
    for (const row of rows) {
      const events = await reader.listEvents(row.id, 0, 100_000);
      logs.set(row.id, events);
      check(events.every((e, i) => e.seq === i + 1), () => `${row.id}: seqs not contiguous: ${events.map((e) => e.seq).join(',')}`);
      check(events.length === row.lastSeq, () => `${row.id}: lastSeq ${row.lastSeq} but ${events.length} events`);
      const terminalAt = events.findIndex((e) => e.type === 'STATUS' && isTerminal(e.status));
      check(terminalAt === -1 || terminalAt === events.length - 1, () => `${row.id}: ${events.length - 1 - terminalAt} event(s) after the terminal ${events[terminalAt]!.status}`);
      const statuses = events.filter((e) => e.type === 'STATUS').map((e) => e.status);
      const cancelling = statuses.indexOf('CANCELLING');
      check(cancelling === -1 || statuses.slice(cancelling + 1).every((s) => s === 'CANCELLED'), () => `${row.id}: left CANCELLING for ${statuses.slice(cancelling + 1).join(',')}`);
      // Every status move in the log is one the status machine has (a double claim would be RUNNING>RUNNING).
      const moves = statuses.slice(1).map((to, i) => `${statuses[i]}>${to}`);
      check(statuses[0] === 'QUEUED' && moves.every((m) => LEGAL.has(m)), () => `${row.id}: status moves not in the machine: ${statuses.join(' > ')}`);
    }

    // Paused: nothing of the execution runs until it is resumed. The next event after PAUSED is its
    // next status move (QUEUED by a resume that was sent, or CANCELLED); no request reaches its site
    // while it is paused (beyond REQUEST_SLACK_MS for a request sent just before the pause).
    const single = new Map<string, number>();
    for (const [crawl, same] of bySite) if (crawl >= 0 && same.length === 1) single.set(same[0]!.id, crawl);
    for (const row of rows) {
      const events = logs.get(row.id) ?? [];
      events.forEach((e, i) => {
        if (e.type !== 'STATUS' || e.status !== 'PAUSED') return;
        const next = events[i + 1];
        check(!next || next.type === 'STATUS', () => `${row.id}: a ${next!.type} event (seq ${next!.seq}) while PAUSED`);
        if (next?.type === 'STATUS' && next.status === 'QUEUED') {
          const sent = resumeSent.some((r) => (r.id === null || r.id === row.id) && r.at <= next.at + 5);
          check(sent && next.message === 'resumed', () => `${row.id}: PAUSED left for QUEUED (seq ${next.seq}, "${next.message}") with no resume sent before`);
        }
        const crawl = single.get(row.id);
        if (crawl === undefined) return;
        const until = next?.at ?? Infinity;
        // A node cut off from its database (a partition, a kill -9 stand-in) hears no pause: it stops
        // its code when its lease runs out, so a fault overlapping the pause allows that long.
        const faulted = faultWindows.some(([a, b]) => a <= e.at + REQUEST_SLACK_MS && b >= e.at - TIMING.leaseMs);
        // In-process nodes: when each request was written to its socket (as for the end of a crawl
        // below); a loaded site can read one sent before the pause well after it. Child processes:
        // the arrival time, with REQUEST_SLACK_MS for one sent just before.
        const inProcess = schedule.family === 'engine';
        const allowed = (inProcess ? 0 : REQUEST_SLACK_MS) + (faulted ? TIMING.leaseMs + TIMING.heartbeatMs : 0);
        const requests = inProcess ? sends.sent[crawl]! : arrivals[crawl]!.map((at, k) => ({ at, path: sites[crawl]!.requests[k] }));
        const from = inProcess ? stoppedFrom(row.id, runningBefore(events, e.at), e.at, allowed) : e.at + allowed;
        const during = requests.filter((a) => a.at > from && a.at < until);
        const verb = inProcess ? 'sent' : 'to its site';
        check(during.length === 0, () => `${row.id}: ${during.length} request(s) ${verb} while PAUSED (seq ${e.seq}${faulted ? ', a fault overlapping' : ''}): ${during.map((a) => `${a.path} +${a.at - e.at} ms`).join(' ')} (${statusStory(events, e.at)})${diag(row.id, e.at)}`);
      });
    }
    // A pause answered PAUSED is in the log.
    for (const { id } of paused) {
      check(logs.get(id)?.some((e) => e.type === 'STATUS' && e.status === 'PAUSED') ?? false, () => `pause of ${id} was answered PAUSED, and its log has no PAUSED`);
    }
    report.pauses = paused.length;

    // Accepted cancel => CANCELLED, within grace + one heartbeat unless a fault overlapped.
    for (const { id, requestedAt } of accepted) {
      const row = rows.find((r) => r.id === id);
      check(row?.status === 'CANCELLED', () => `cancel of ${id} was accepted, yet it ended ${row?.status ?? 'unknown'}`);
      const cancelled = logs.get(id)?.find((e) => e.type === 'STATUS' && e.status === 'CANCELLED');
      if (!cancelled) continue;
      const latency = Math.max(0, cancelled.at - requestedAt);
      const faulted = faultWindows.some(([a, b]) => a <= requestedAt + bound + CANCEL_SLACK_MS && b >= requestedAt - TIMING.leaseMs);
      (faulted ? report.faultedCancelLatenciesMs : report.cancelLatenciesMs).push(latency);
      if (!faulted) check(latency <= bound + CANCEL_SLACK_MS, () => `cancel of ${id} took ${latency} ms to CANCELLED (bound ${bound} + ${CANCEL_SLACK_MS} ms; ${statusStory(logs.get(id) ?? [], requestedAt)})${diag(id, cancelled.at, latency + 300)}`);
    }

    // No request to a site sent after its crawl's CANCELLED (or other end). In-process nodes: the
    // time each request was written to its socket. Child processes: the site's arrival time, with
    // REQUEST_SLACK_MS for one sent just before the end and read a little after it.
    for (const [crawl, same] of bySite) {
      if (crawl < 0 || !same.every((r) => isTerminal(r.status))) continue;
      const endedAt = Math.max(...same.map((r) => logs.get(r.id)?.at(-1)?.at ?? Infinity));
      const only = same.length === 1 ? same[0]! : null;
      const from = only ? stoppedFrom(only.id, runningBefore(logs.get(only.id) ?? [], endedAt), endedAt, 0) : endedAt;
      const late =
        schedule.family === 'engine'
          ? sends.sent[crawl]!.filter((a) => a.at > from)
          : arrivals[crawl]!.map((at, i) => ({ at, path: sites[crawl]!.requests[i] })).filter((a) => a.at > endedAt + REQUEST_SLACK_MS);
      const verb = schedule.family === 'engine' ? 'was sent' : 'got';
      check(late.length === 0, () => `site of ${same.map((r) => r.id).join(',')} (${same.map((r) => r.status).join(',')}) ${verb} ${late.length} request(s) after its crawl ended: ${late.map((a) => `${a.path} +${a.at - endedAt} ms`).join(' ')}`);
    }

    // Counters equal the store: the chunks an execution reports are the chunks its source holds.
    const sources = await reader.knowledge.listSources();
    for (const [crawl, same] of bySite) {
      // Two crawls of one site share its source: the sum of theirs is not theirs alone (unchanged pages).
      if (crawl < 0 || same.length !== 1) continue;
      const row = same[0]!;
      const id = row.id;
      const source = sources.find((s) => s.url === sites[crawl]!.url);
      const held = source?.chunks ?? 0;
      check(row.progress.chunksStored === held, () => `${id} (${row.status}) reports ${row.progress.chunksStored} chunks stored; the store holds ${held}`);
      // pagesStored: the checkpoint's count (what a resumed attempt starts from) and a finished crawl's result.
      const pages = (await reader.knowledge.listExecutionPages(id, 0, 10_000)).length;
      const checkpoint = await reader.loadCheckpoint(id);
      const counted = (checkpoint.get('#stored') as number | undefined) ?? 0;
      if (checkpoint.size > 0) check(counted === pages, () => `${id} (${row.status}, attempt ${row.attempt}): its checkpoint counts ${counted} pages stored; the store holds ${pages} of its pages`);
      const result = row.result as { pagesStored?: number } | null;
      if (row.status === 'SUCCEEDED' && result) check(result.pagesStored === pages, () => `${id} (SUCCEEDED, attempt ${row.attempt}) reports ${result.pagesStored} pages stored; the store holds ${pages} of its pages`);
    }

    // Subscriptions: what each delivered is the log (no gap, no duplicate); the ones still watching ended with the terminal event.
    await sleep(100); // a resubscribe after an error may be under way
    closing = true;
    for (const s of [...subscriptions]) {
      // a last event whose message was lost reaches it by its feed's idle read of the log (shared store)
      if (!s.left) await Promise.race([s.collector.done.catch(() => {}), sleep(IDLE_REFILL_MS + 500)]);
      const got = s.collector.items;
      const log = logs.get(s.executionId) ?? [];
      const expected = log.filter((e) => e.seq > s.afterSeq).slice(0, got.length);
      check(got.every((e, i) => e.seq === expected[i]?.seq && e.type === expected[i]?.type), () => `subscription to ${s.executionId} after ${s.afterSeq} delivered seqs ${got.map((e) => e.seq).join(',')}, the log has ${expected.map((e) => e.seq).join(',')}`);
      // Nothing was left after its cursor (it subscribed at the end): completing with nothing is right.
      const expectsMore = (log.at(-1)?.seq ?? 0) > s.afterSeq;
      if (!s.left && expectsMore) check(got.at(-1)?.seq === log.at(-1)?.seq, () => `subscription to ${s.executionId} after ${s.afterSeq} stopped at seq ${got.at(-1)?.seq ?? 'none'}; the log ends at ${log.at(-1)?.seq}`);
    }

    where.stage = 'subscriptions released';
    // Every subscription of a departed client is released (the live gauge of each node returns to 0).
    for (let c = 0; c < clients.length; c++) leave(c);
    for (const n of liveNodes()) {
      let live = -1;
      const until = Date.now() + 2000;
      while (Date.now() < until) {
        live = await liveSubscriptions(urlOf(n));
        if (live === 0) break;
        await sleep(25);
      }
      check(live === 0, () => `node ${nodeIdOf(n)}: ${live} subscription(s) still live 2 s after every client left`);
    }

    for (const n of nodes) countStats(n.faults);
    report.storeCalls = storeCounts.calls;
    report.storeFaults = storeCounts.faults;
  } catch (error) {
    violations.push(`the schedule could not run: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
  } finally {
    where.stage = 'cleanup';
    for (const fn of undo.reverse()) {
      try {
        await fn();
      } catch (error) {
        violations.push(`cleanup failed: ${String(error)}`);
      }
    }
    process.off('unhandledRejection', onUnhandled);
    check(unhandled.length === 0, () => `${unhandled.length} unhandled rejection(s): ${unhandled.map((r) => inspect(r, { depth: 3 })).slice(0, 3).join('; ')}`);
    report.checks = checks;
    report.durationMs = Math.round(performance.now() - began);
  }
  return report;
}

/** The status moves of a log, each at its time relative to `t0`, with its message: what a violation message shows. */
function statusStory(events: readonly ExecutionEvent[], t0: number): string {
  return events
    .filter((e) => e.type === 'STATUS')
    .map((e) => `${e.status}${e.at >= t0 ? '+' : ''}${e.at - t0}${e.message ? ` "${e.message}"` : ''}`)
    .join(' > ');
}

/** Sum of sluice_subscriptions_live over its fields, read from /metrics. */
async function liveSubscriptions(url: string): Promise<number> {
  const text = await fetch(`${url}/metrics`).then((r) => r.text()).catch(() => '');
  let sum = 0;
  for (const line of text.split('\n')) if (line.startsWith('sluice_subscriptions_live{')) sum += Number(line.split(' ').at(-1));
  return sum;
}
