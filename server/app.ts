import { existsSync } from 'node:fs';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import type { ExecutionArgs } from 'graphql';
import { renderGraphiQL } from '@graphql-yoga/render-graphiql';
import { createYoga } from 'graphql-yoga';
import { useServer } from 'graphql-ws/use/ws';
import { pino, type Logger } from 'pino';
import sirv from 'sirv';
import { WebSocketServer } from 'ws';
import { resolveConfig, type Config } from './config.ts';
import { Engine } from './engine/engine.ts';
import type { JobDefinition } from './engine/job.ts';
import type { ExecutionKind } from './engine/types.ts';
import { Metrics, useOperationMetrics } from './http/metrics.ts';
import { placeholderPage } from './http/placeholder.ts';
import { chatJob } from './jobs/chat/chat-job.ts';
import { crawlJob } from './jobs/crawl/crawl-job.ts';
import { createSluicePubSub } from './pubsub.ts';
import type { Context } from './schema/builder.ts';
import { schema } from './schema/index.ts';
import { SqliteStore } from './store/sqlite/sqlite-store.ts';
import type { Store } from './store/store.ts';

export interface App {
  readonly config: Config;
  readonly store: Store;
  readonly engine: Engine;
  readonly log: Logger;
  /** Listens (port 0: any free port) and starts taking work; resolves with the base URL. */
  start(): Promise<{ url: string; port: number }>;
  /** Graceful stop: releases running executions for the next start, closes sockets and the database. */
  stop(): Promise<void>;
}

/** JSON lines for machines; readable lines when a person watches a terminal. */
function createLogger(config: Config): Logger {
  const options = { level: config.logLevel, base: { node: config.nodeId } };
  if (!process.stdout.isTTY || config.logLevel === 'silent') return pino(options);
  return pino(options, pino.transport({ target: 'pino-pretty', options: { translateTime: 'SYS:HH:MM:ss.l', ignore: 'pid,hostname' } }));
}

/** Builds the whole server from a config object; nothing happens until start(). */
export function createApp(partial: Partial<Config> = {}): App {
  const config = resolveConfig(partial);
  const log = createLogger(config);
  const store: Store = new SqliteStore(join(config.dataDir, 'sluice.db'));
  const pubsub = createSluicePubSub();
  const metrics = new Metrics(store);
  const jobs = new Map<ExecutionKind, JobDefinition<never, unknown>>([
    ['CRAWL', crawlJob as JobDefinition<never, unknown>],
    ['CHAT', chatJob as JobDefinition<never, unknown>],
  ]);
  const engine = new Engine(
    store,
    pubsub,
    jobs,
    {
      nodeId: config.nodeId,
      maxConcurrent: config.maxConcurrent,
      cancelGraceMs: config.cancelGraceMs,
      leaseMs: config.leaseMs,
      heartbeatMs: config.heartbeatMs,
      progressIntervalMs: config.progressIntervalMs,
      jobSettings: {
        allowPrivateNetworks: config.allowPrivateNetworks,
        userAgent: 'SluiceBot/0.1 (+https://github.com/sluice)',
        llm:
          config.llmBaseUrl && config.llmModel
            ? { baseUrl: config.llmBaseUrl, model: config.llmModel, apiKey: config.llmApiKey }
            : undefined,
      },
    },
    log,
    metrics,
  );

  const contextFor = (): Context => ({ engine, store, pubsub, config, metrics, actor: 'local' });
  const yoga = createYoga<{ req: IncomingMessage; res: ServerResponse }>({
    schema,
    graphqlEndpoint: '/graphql',
    context: contextFor,
    graphiql: { subscriptionsProtocol: 'WS', title: 'Sluice GraphiQL' },
    // Served from this process (not a CDN), so GraphiQL works on machines without internet access.
    renderGraphiQL,
    plugins: [useOperationMetrics(metrics)],
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
    '/graphql': (req, res) => void yoga(req, res),
    '/health': (_req, res) => void check(res, () => store.ping()),
    '/ready': (_req, res) => void check(res, () => store.ping()),
    '/metrics': (_req, res) =>
      void metrics.registry.metrics().then((text) => res.writeHead(200, { 'content-type': metrics.registry.contentType }).end(text)),
  };

  const server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0]!;
    const route = routes[path];
    const started = performance.now();
    res.once('finish', () => {
      const labels = { method: req.method ?? 'GET', route: route ? path : 'static', status: String(res.statusCode) };
      metrics.httpDuration.observe(labels, (performance.now() - started) / 1000);
    });
    if (route) return route(req, res);
    if (staticFiles) return staticFiles(req, res);
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' }).end(placeholderPage());
  });

  /** /health and /ready: 200 once the dependencies answer, 503 saying which did not. */
  const check = async (res: ServerResponse, probe: () => Promise<void>): Promise<void> => {
    try {
      await probe();
      res.writeHead(200, { 'content-type': 'application/json' }).end('{"status":"ok"}');
    } catch (error) {
      log.warn({ err: error }, 'health check: the database did not answer');
      res.writeHead(503, { 'content-type': 'application/json' }).end('{"status":"unavailable","database":"down"}');
    }
  };

  const wss = new WebSocketServer({ server, path: '/graphql' });
  const wsServer = useServer(
    {
      execute: (args) => (args.rootValue as { execute: (a: ExecutionArgs) => unknown }).execute(args) as never,
      subscribe: (args) => (args.rootValue as { subscribe: (a: ExecutionArgs) => unknown }).subscribe(args) as never,
      onSubscribe: async (ctx, _id, params) => {
        const { schema, execute, subscribe, contextFactory, parse, validate } = yoga.getEnveloped({
          ...ctx,
          req: ctx.extra.request,
          socket: ctx.extra.socket,
          params,
        });
        const args: ExecutionArgs = {
          schema,
          operationName: params.operationName,
          document: parse(params.query),
          variableValues: params.variables,
          contextValue: await contextFactory(),
          rootValue: { execute, subscribe },
        };
        const errors = validate(args.schema, args.document);
        return errors.length ? errors : args;
      },
    },
    wss,
    10_000,
  );

  let started = false;
  let stopping: Promise<void> | null = null;
  const shutdown = async (): Promise<void> => {
    if (started) await engine.stop();
    await wsServer.dispose();
    wss.close();
    if (server.listening) {
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
    }
    await store.close();
    log.flush();
  };
  return {
    config,
    store,
    engine,
    log,
    async start() {
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(config.port, config.host, () => resolve());
      });
      started = true;
      const { port } = server.address() as AddressInfo;
      const url = `http://${config.host.includes(':') ? `[${config.host}]` : config.host}:${port}`;
      await engine.start();
      log.info(`listening on ${url}`);
      return { url, port };
    },
    stop() {
      stopping ??= shutdown();
      return stopping;
    },
  };
}
