import { existsSync } from 'node:fs';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { createYoga } from 'graphql-yoga';
import { useCSRFPrevention } from '@graphql-yoga/plugin-csrf-prevention';
import { pino, type Logger } from 'pino';
import sirv from 'sirv';
import { resolveConfig, type Config } from './config.ts';
import { Engine } from './engine/engine.ts';
import type { Job } from './engine/job.ts';
import { createAuthenticator, principalOf, useHttpAuthentication } from './http/auth.ts';
import { graphiqlOptions, renderGraphiQL } from './http/graphiql.ts';
import { useCallerErrors } from './schema/errors.ts';
import { attachGraphqlWs } from './http/graphql-ws.ts';
import { trackRequests } from './http/drain.ts';
import { Fanout } from './streams/fanout.ts';
import { useSseFanout } from './http/sse-fanout.ts';
import { healthRoutes } from './http/health.ts';
import { Metrics, useOperationMetrics } from './http/metrics.ts';
import { corsFor, refuseRequest } from './http/request-guard.ts';
import { placeholderPage } from './http/placeholder.ts';
import { createPagePool } from './jobs/crawl/page-pool.ts';
import { defaultJobs } from './jobs/default-jobs.ts';
import { secondsSince } from './lib/timing.ts';
import { createSluicePubSub } from './pubsub.ts';
import { createRedisPubSub } from './pubsub-redis.ts';
import type { Context } from './schema/builder.ts';
import { schema } from './schema/index.ts';
import { useAccessControl } from './security/access.ts';
import { graphqlLimitPlugins } from './security/graphql-limits.ts';
import { RateLimiter } from './security/rate-limit.ts';
import type { Principal } from './security/tokens.ts';
import { PostgresStore } from './store/postgres/postgres-store.ts';
import { lockDataFolder } from './store/sqlite/data-folder-lock.ts';
import { SqliteStore } from './store/sqlite/sqlite-store.ts';
import type { Store } from './store/store.ts';

export interface App {
  readonly config: Config;
  readonly store: Store;
  readonly engine: Engine;
  readonly log: Logger;
  /** The fan-out's live feeds, groups and subscribers out of the live stream for being slow (tests, diagnostics). */
  subscriptionStats(): { feeds: number; groups: number; lagging: number };
  /** Listens (port 0: any free port) and starts taking work; resolves with the base URL. */
  start(): Promise<{ url: string; port: number }>;
  /** Graceful stop: releases running executions for the next start, closes sockets and the database. */
  stop(): Promise<void>;
  /** A promise rejection nothing handled (main.ts routes the process's here): logged and counted, never fatal. */
  reportUnhandledRejection(reason: unknown): void;
}

/** JSON lines for machines; readable lines when a person watches a terminal. */
function createLogger(config: Config): Logger {
  const options = { level: config.logLevel, base: { node: config.nodeId } };
  if (!process.stdout.isTTY || config.logLevel === 'silent') return pino(options);
  return pino(options, pino.transport({ target: 'pino-pretty', options: { translateTime: 'SYS:HH:MM:ss.l', ignore: 'pid,hostname' } }));
}

export interface AppOptions {
  /**
   * Job kinds to run besides (or instead of) the default crawl and chat: a job given here replaces
   * the default of its kind. Tests register their own jobs this way.
   */
  jobs?: readonly Job[];
  /** Puts something between the app and its store (the chaos suite wraps it to inject faults). */
  wrapStore?(store: Store): Store;
  /**
   * Start the page-building threads and the SQLite page writer thread as a crawl starts (while it
   * reads robots.txt and its first page) and keep them, rather than at its first page and its first
   * write (default true; the test helper leaves them to start on use). Not at server start: an idle
   * node keeps its memory (each thread holds 10-13 MB).
   */
  warmThreads?: boolean;
}

/** Builds the whole server from a config object; nothing happens until start(). */
export function createApp(partial: Partial<Config> = {}, options: AppOptions = {}): App {
  const config = resolveConfig(partial);
  const log = createLogger(config);
  // Before anything is opened: a server reachable from other machines without tokens does not start.
  const auth = createAuthenticator(config, log);
  // Several nodes share PostgreSQL (the record) and Redis (the doorbell); one node needs neither.
  const baseStore: Store = config.databaseUrl
    ? new PostgresStore(config.databaseUrl, {
        applicationName: `sluice ${config.nodeId}`.slice(0, 63),
        maxConnections: config.databasePoolSize,
        onError: (error) => log.warn({ err: error }, 'postgres: an idle connection failed; the pool replaces it'),
        onMigrateRetry: (error, tried, delayMs) =>
          log.warn({ err: error, tried, delayMs }, `postgres: the connection failed during the migrations (try ${tried}); trying again in ${delayMs} ms`),
      })
    : // page writes (their full-text index) on a thread of their own
      new SqliteStore(join(config.dataDir, 'sluice.db'), { pageWriterThread: config.sqlitePageWriter });
  const store = options.wrapStore?.(baseStore) ?? baseStore;
  const redis = config.redisUrl ? createRedisPubSub(config.redisUrl, { prefix: config.redisPrefix, log }) : null;
  const pubsub = redis?.pubsub ?? createSluicePubSub();
  const metrics = new Metrics(store);
  const given = options.jobs ?? [];
  const llm = config.llmBaseUrl && config.llmModel ? { baseUrl: config.llmBaseUrl, model: config.llmModel, apiKey: config.llmApiKey } : undefined;
  // one pool of page-building threads for every crawl of this node
  const pages = createPagePool(config.crawlWorkers);
  const warm = () => {
    pages.warm();
    if (baseStore instanceof SqliteStore) baseStore.warm();
  };
  const jobs = [
    ...defaultJobs(store, {
      allowPrivateNetworks: config.allowPrivateNetworks,
      llm,
      pages,
      // on SQLite, pages are split into chunks on the page writer thread: about 0.08 ms of the 1.2 ms a page costs the main thread
      chunkWhereStored: baseStore instanceof SqliteStore && baseStore.writesPagesOnThread,
      crawlStarting: options.warmThreads === false ? undefined : warm,
    }).filter((job) => !given.some((g) => g.kind === job.kind)),
    ...given,
  ];
  const engine = new Engine({
    store,
    pubsub,
    jobs,
    log,
    observer: metrics,
    nodeId: config.nodeId,
    maxConcurrent: config.maxConcurrent,
    cancelGraceMs: config.cancelGraceMs,
    leaseMs: config.leaseMs,
    heartbeatMs: config.heartbeatMs,
    progressIntervalMs: config.progressIntervalMs,
  });

  const contextFor = (principal: Principal | null): Context => ({
    engine,
    store,
    pubsub,
    config,
    metrics,
    actor: principal?.name ?? 'anonymous',
    principal,
  });
  // graphql-ws and SSE subscribers of jobProgress and executionChanged share its groups.
  const fanout = new Fanout({
    store,
    pubsub,
    schema,
    contextFor,
    track: (field) => metrics.trackSubscription(field),
    rendered: (field) => metrics.countRender(field),
    slow: (outcome) => metrics.countSlow(outcome),
    highWaterBytes: config.streamHighWaterBytes,
    stallMs: config.streamStallMs,
    log,
  });
  const yoga = createYoga<{ req: IncomingMessage; res: ServerResponse }>({
    schema,
    graphqlEndpoint: '/graphql',
    context: (initial) => contextFor(principalOf(auth, initial)),
    graphiql: graphiqlOptions(auth.open),
    cors: corsFor,
    maskedErrors: { isDev: false },
    // Served from this process (not a CDN), so GraphiQL works on machines without internet access.
    renderGraphiQL,
    plugins: [
      useCallerErrors(),
      useOperationMetrics(metrics),
      useCSRFPrevention(),
      useHttpAuthentication(auth),
      ...graphqlLimitPlugins(),
      useAccessControl(new RateLimiter(config.startRateLimitPerMinute), config.startRateLimitPerMinute),
      useSseFanout(fanout),
    ],
    logging: {
      debug: (...args) => log.debug(args),
      info: (...args) => log.info(args),
      warn: (...args) => log.warn(args),
      error: (...args) => log.error(args),
    },
  });

  const staticFiles = existsSync(join(config.clientDir, 'index.html'))
    ? sirv(config.clientDir, { single: true, etag: true, gzip: true })
    : null;

  const routes: Record<string, (req: IncomingMessage, res: ServerResponse) => void> = {
    '/graphql': (req, res) => void (refuseRequest(req, res, { open: auth.open, maxBytes: config.maxRequestBytes }) || yoga(req, res)),
    ...healthRoutes({
      probes: { database: () => store.ping(), ...(redis && { redis: () => redis.ping() }) },
      notReady: () => (stopping ? 'shutting down' : ready ? null : 'starting'),
      log,
    }),
    '/metrics': (_req, res) => void metrics.answerScrape(res, log),
  };

  const server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0]!;
    const route = routes[path];
    const started = performance.now();
    res.once('finish', () => {
      const labels = { method: req.method ?? 'GET', route: route ? path : 'static', status: String(res.statusCode) };
      metrics.httpDuration.observe(labels, secondsSince(started));
    });
    if (route) return route(req, res);
    if (staticFiles) return staticFiles(req, res);
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' }).end(placeholderPage());
  });

  const requests = trackRequests(server);
  metrics.countInFlight(() => requests.inFlight);
  const closeGraphqlWs = attachGraphqlWs(server, yoga, auth, config.maxRequestBytes, fanout);

  let started = false;
  let ready = false; // /readyz: once the engine has started (recovery sweep done, pub/sub subscribed)
  let stopping: Promise<void> | null = null;
  // The drain order: /readyz 503 (at once), stop accepting, let requests in flight finish (bounded),
  // close WebSockets with 1001 Going Away, then release the executions this node runs, then the database.
  let releaseFolder: (() => void) | null = null;
  const shutdown = async (): Promise<void> => {
    if (config.shutdownDelayMs > 0) await new Promise((resolve) => setTimeout(resolve, config.shutdownDelayMs));
    const [cutOff] = await Promise.all([requests.drain(config.drainTimeoutMs), closeGraphqlWs(config.drainTimeoutMs)]);
    if (cutOff > 0) log.warn(`stopping: ${cutOff} request(s) still in flight after ${config.drainTimeoutMs} ms were cut off`);
    if (started) await engine.stop();
    await pages.close();
    await store.close();
    releaseFolder?.();
    await redis?.close();
    log.flush();
  };
  return {
    config,
    store,
    engine,
    log,
    subscriptionStats: () => fanout.stats(),
    async start() {
      try {
        // The embedded database serves one process: a second one on the folder would take its running work.
        if (!config.databaseUrl) releaseFolder = lockDataFolder(config.dataDir);
        await store.migrate();
        await new Promise<void>((resolve, reject) => {
          server.once('error', reject);
          server.listen(config.port, config.host, () => resolve());
        });
        started = true;
        const { port } = server.address() as AddressInfo;
        const url = `http://${config.host.includes(':') ? `[${config.host}]` : config.host}:${port}`;
        await engine.start();
        ready = true;
        log.info(`listening on ${url}`);
        return { url, port };
      } catch (error) {
        // Whatever was opened (the database, the lock of its folder) is closed again.
        stopping ??= shutdown();
        await stopping.catch(() => {});
        throw error;
      }
    },
    stop() {
      stopping ??= shutdown();
      return stopping;
    },
    reportUnhandledRejection(reason) {
      metrics.onUnhandledRejection();
      log.error({ err: reason }, 'a promise rejection was not handled (a bug); the node keeps serving');
    },
  };
}
