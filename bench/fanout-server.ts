// Child process of bench:fanout, in one of three roles (argv[2]), each answering the parent over IPC:
//   sluice    the real app (createApp: Yoga, graphql-ws, engine, SQLite) on port 0, LLM pointed at argv[3]
//   baseline  a bare graphql-yoga + graphql-ws server with a trivial schema of the same shape, whose
//             subscription streams what a publisher sends through Yoga's createPubSub
//   llm       an OpenAI-compatible streaming endpoint that holds each answer until the parent releases it,
//             then sends its tokens on a fixed schedule (the event source of the Sluice runs)
// Servers run with --expose-gc so that memory is read after a full collection.
import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { writeFileSync } from 'node:fs';
import { Session } from 'node:inspector/promises';
import { monitorEventLoopDelay, PerformanceObserver, constants as perf } from 'node:perf_hooks';
import { writeHeapSnapshot } from 'node:v8';
import type { ExecutionArgs } from 'graphql';
import { setMaxListeners } from 'node:events';
import { createPubSub, createSchema, createYoga } from 'graphql-yoga';
import { useServer } from 'graphql-ws/use/ws';
import { WebSocketServer } from 'ws';
import { createApp } from '../server/app.ts';
import { tempDir } from '../test/helpers/stores.ts';

export type Role = 'sluice' | 'baseline' | 'llm';

/** A stream of `count` events, one every `intervalMs` on an absolute schedule, each `chars` characters long. */
export interface Schedule {
  count: number;
  intervalMs: number;
  chars: number;
}

export type Request =
  | { id: number; cmd: 'mem' }
  | { id: number; cmd: 'cpu' }
  | { id: number; cmd: 'watch'; label: string }
  | { id: number; cmd: 'unwatch' }
  | { id: number; cmd: 'held'; n: number }
  | ({ id: number; cmd: 'release' } & Schedule)
  | ({ id: number; cmd: 'publish'; topics: string[] } & Schedule);

export interface Memory {
  rss: number;
  heapUsed: number;
  external: number;
  arrayBuffers: number;
}

/** What the server's event loop went through during a watched window (the cancel rounds). */
export interface Watch {
  gcCount: number;
  gcMs: number;
  gcMaxMs: number;
  /** Mark-compact collections (the long ones). */
  majorCount: number;
  majorMs: number;
  /** Event-loop delay (monitorEventLoopDelay at 1 ms resolution): p99 and max, ms. */
  loopP99: number;
  loopMax: number;
}

/** The text of event/token `i`: "token 17 " padded to `chars` (the chat writer commits one event per >= 40 characters). */
const tokenText = (i: number, chars: number): string => `token ${i} `.padEnd(chars, '~');

const role = process.argv[2] as Role;
// tsx maps every stack trace to the TypeScript sources; a deployed server (node dist/server/main.js)
// does not, and Node formats stacks that nobody prints (a stream destroyed with an error reads
// err.stack: each aborted model fetch does). Measured as deployed.
process.setSourceMapsEnabled(false);
const gc = (globalThis as { gc?: () => void }).gc;

function reply(id: number, value: unknown): void {
  process.send!({ id, value });
}

let snapshots = 0;

function memory(): Memory {
  for (let i = 0; i < 3; i++) gc?.();
  // BENCH_HEAP_SNAPSHOTS=<dir>: a heap snapshot at each reading, to see what an idle subscriber holds.
  const dir = process.env.BENCH_HEAP_SNAPSHOTS;
  if (dir) writeHeapSnapshot(join(dir, `${role}-${process.pid}-${++snapshots}.heapsnapshot`));
  const m = process.memoryUsage();
  return { rss: m.rss, heapUsed: m.heapUsed, external: m.external, arrayBuffers: m.arrayBuffers };
}

/** Calls `send(i)` for i = 0..count-1 at start + i * intervalMs (catching up when the loop was busy). */
function onSchedule(schedule: Schedule, send: (i: number) => void, done: () => void): void {
  const start = performance.now();
  let next = 0;
  const tick = () => {
    const due = Math.min(schedule.count, Math.floor((performance.now() - start) / schedule.intervalMs) + 1);
    while (next < due) send(next++);
    if (next >= schedule.count) return done();
    setTimeout(tick, Math.max(0, start + next * schedule.intervalMs - performance.now()));
  };
  tick();
}

/**
 * Watches GC pauses and event-loop delay from `watch` to `unwatch`; with BENCH_CPU_PROFILE=<dir>, a
 * CPU profile and a sampled allocation profile of the window too (open them in Chrome DevTools).
 */
function watcher(): { start(label: string): Promise<void>; stop(): Promise<Watch> } {
  let entries: PerformanceEntry[] = [];
  let observer: PerformanceObserver | null = null;
  let delay: ReturnType<typeof monitorEventLoopDelay> | null = null;
  let session: Session | null = null;
  let label = '';
  return {
    async start(name) {
      label = name;
      // With --trace-gc, marks where the window starts and ends in its output.
      if (process.execArgv.includes('--trace-gc')) console.log(`--- watch ${name} start`);
      entries = [];
      observer = new PerformanceObserver((list) => entries.push(...list.getEntries()));
      observer.observe({ entryTypes: ['gc'] });
      delay = monitorEventLoopDelay({ resolution: 1 });
      delay.enable();
      if (process.env.BENCH_CPU_PROFILE) {
        session = new Session();
        session.connect();
        await session.post('Profiler.enable');
        await session.post('Profiler.setSamplingInterval', { interval: 200 });
        await session.post('Profiler.start');
        // What the window allocates (sampled every 32 KiB), objects collected since included.
        await session.post('HeapProfiler.startSampling', { samplingInterval: 32 * 1024, includeObjectsCollectedByMajorGC: true, includeObjectsCollectedByMinorGC: true });
      }
    },
    async stop() {
      // The observer's callback runs on a later tick: let the last entries in.
      await new Promise((resolve) => setTimeout(resolve, 20));
      if (process.execArgv.includes('--trace-gc')) console.log(`--- watch ${label} end`);
      observer?.disconnect();
      delay?.disable();
      if (session) {
        const { profile } = await session.post('Profiler.stop');
        const { profile: heap } = await session.post('HeapProfiler.stopSampling');
        const dir = process.env.BENCH_CPU_PROFILE!;
        writeFileSync(join(dir, `${role}-${label}-${process.pid}.cpuprofile`), JSON.stringify(profile));
        writeFileSync(join(dir, `${role}-${label}-${process.pid}.heapprofile`), JSON.stringify(heap));
        session.disconnect();
        session = null;
      }
      const major = entries.filter((e) => (e as PerformanceEntry & { detail?: { kind?: number } }).detail?.kind === perf.NODE_PERFORMANCE_GC_MAJOR);
      const ms = (ns: number) => ns / 1e6;
      return {
        gcCount: entries.length,
        gcMs: entries.reduce((sum, e) => sum + e.duration, 0),
        gcMaxMs: entries.reduce((max, e) => Math.max(max, e.duration), 0),
        majorCount: major.length,
        majorMs: major.reduce((sum, e) => sum + e.duration, 0),
        loopP99: delay ? ms(delay.percentile(99)) : 0,
        loopMax: delay ? ms(delay.max) : 0,
      };
    },
  };
}

// --- sluice ------------------------------------------------------------------------------------

async function sluice(llmUrl: string, maxConcurrent: number): Promise<void> {
  const dir = tempDir('sluice-fanout-');
  const app = createApp({
    port: 0,
    maxConcurrent,
    // Pages parsed on the main thread: the seeding crawl is tiny, and its figures are not measured.
    crawlWorkers: 0,
    dataDir: dir.path,
    allowPrivateNetworks: true,
    logLevel: 'silent',
    startRateLimitPerMinute: 0,
    llmBaseUrl: llmUrl,
    llmModel: 'bench-model',
  });
  const { url } = await app.start();
  const watch = watcher();
  process.on('message', (r: Request) => {
    if (r.cmd === 'mem') reply(r.id, memory());
    if (r.cmd === 'cpu') reply(r.id, process.cpuUsage());
    if (r.cmd === 'watch') void watch.start(r.label).then(() => reply(r.id, true));
    if (r.cmd === 'unwatch') void watch.stop().then((w) => reply(r.id, w));
  });
  process.once('disconnect', () => void app.stop().finally(() => (dir.remove(), process.exit(0))));
  process.send!({ url });
}

// --- baseline ----------------------------------------------------------------------------------

const BASELINE_SDL = /* GraphQL */ `
  type Progress {
    stage: String!
    percent: Float
    pagesDiscovered: Int!
    pagesFetched: Int!
    pagesFailed: Int!
    pagesSkipped: Int!
    bytesFetched: Float!
    chunksStored: Int!
  }
  type Event {
    executionId: ID!
    seq: Int!
    at: String!
    type: String!
    status: String!
    message: String
    progress: Progress!
  }
  type Execution {
    id: ID!
    kind: String!
    status: String!
    title: String!
    lastSeq: Int!
    progress: Progress!
  }
  type Query { ok: Boolean }
  type Subscription {
    jobProgress(executionId: ID!, afterSeq: Int): Event
    executionChanged: Execution
  }
`;

interface BaselineEvent {
  executionId: string;
  seq: number;
  at: number;
  type: string;
  status: string;
  message: string | null;
  progress: Record<string, number | string | null>;
}

const progress = () => ({ stage: 'answering', percent: null, pagesDiscovered: 0, pagesFetched: 0, pagesFailed: 0, pagesSkipped: 0, bytesFetched: 0, chunksStored: 0 });

async function baseline(): Promise<void> {
  // Same listener setting as Sluice's pub/sub, so neither prints MaxListenersExceededWarning.
  const target = new EventTarget();
  setMaxListeners(0, target);
  const pubsub = createPubSub<{ event: [topic: string, event: BaselineEvent]; changed: [execution: Record<string, unknown>] }>({ eventTarget: target as never });
  const schema = createSchema<{ req: IncomingMessage; res: ServerResponse }>({
    typeDefs: BASELINE_SDL,
    resolvers: {
      Event: { at: (e: BaselineEvent) => new Date(e.at).toISOString() },
      Subscription: {
        jobProgress: {
          // Like a subscriber of Sluice: one event once the listener is in place (Sluice replays the log
          // then), the live events, and the end after the terminal one.
          subscribe: async function* (_: unknown, args: { executionId: string }) {
            const iterator = pubsub.subscribe('event', args.executionId)[Symbol.asyncIterator]();
            let pending = iterator.next(); // registers the listener now
            try {
              yield { executionId: args.executionId, seq: 0, at: Date.now(), type: 'STATUS', status: 'RUNNING', message: null, progress: progress() };
              for (;;) {
                const next = await pending;
                if (next.done) return;
                yield next.value;
                if (next.value.type === 'STATUS') return;
                pending = iterator.next();
              }
            } finally {
              await iterator.return?.();
            }
          },
          resolve: (event: BaselineEvent) => event,
        },
        // As a bare server would write it: every subscriber its own listener and resolver run.
        executionChanged: {
          subscribe: () => pubsub.subscribe('changed'),
          resolve: (execution: Record<string, unknown>) => execution,
        },
      },
    },
  });
  const yoga = createYoga<{ req: IncomingMessage; res: ServerResponse }>({ schema, graphqlEndpoint: '/graphql', logging: false });
  const server = http.createServer((req, res) => void yoga(req, res));
  const wss = new WebSocketServer({ server, path: '/graphql' });
  // The graphql-ws recipe from the Yoga documentation.
  useServer(
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
  await new Promise<void>((ready) => server.listen(0, '127.0.0.1', ready));
  process.on('message', (r: Request) => {
    if (r.cmd === 'mem') reply(r.id, memory());
    if (r.cmd === 'cpu') reply(r.id, process.cpuUsage());
    if (r.cmd === 'publish') {
      const publish = (topic: string, seq: number, type: string, status: string, message: string | null) =>
        pubsub.publish('event', topic, { executionId: topic, seq, at: Date.now(), type, status, message, progress: progress() });
      onSchedule(
        r,
        (i) => r.topics.forEach((topic) => publish(topic, i + 1, 'TOKEN', 'RUNNING', tokenText(i, r.chars))),
        () => {
          for (const topic of r.topics) {
            publish(topic, r.count + 1, 'STATUS', 'SUCCEEDED', null);
            pubsub.publish('changed', { id: topic, kind: 'CHAT', status: 'SUCCEEDED', title: 'question', lastSeq: r.count + 1, progress: progress() });
          }
          reply(r.id, r.count + 1);
        },
      );
    }
  });
  process.once('disconnect', () => process.exit(0));
  process.send!({ url: `http://127.0.0.1:${(server.address() as AddressInfo).port}` });
}

// --- llm ---------------------------------------------------------------------------------------

async function llm(): Promise<void> {
  const held: ServerResponse[] = [];
  const waiters: (() => void)[] = [];
  const chunk = (delta: Record<string, unknown>, finish: string | null = null) =>
    `data: ${JSON.stringify({ id: 'cmpl-bench', object: 'chat.completion.chunk', choices: [{ index: 0, delta, finish_reason: finish }] })}\n\n`;
  const server = http.createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
      res.write(chunk({ role: 'assistant' }));
      held.push(res);
      waiters.splice(0).forEach((w) => w());
    });
  });
  await new Promise<void>((ready) => server.listen(0, '127.0.0.1', ready));
  process.on('message', (r: Request) => {
    if (r.cmd === 'held') {
      const check = () => (held.length >= r.n ? reply(r.id, held.length) : waiters.push(check));
      check();
    }
    if (r.cmd === 'release') {
      const streams = held.splice(0);
      onSchedule(
        r,
        (i) => streams.forEach((res) => res.write(chunk({ content: tokenText(i, r.chars) }))),
        () => {
          streams.forEach((res) => res.end(`${chunk({}, 'stop')}data: [DONE]\n\n`));
          reply(r.id, streams.length);
        },
      );
    }
  });
  process.once('disconnect', () => process.exit(0));
  process.send!({ url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1` });
}

if (role === 'sluice') await sluice(process.argv[3]!, Number(process.argv[4] ?? 8));
else if (role === 'baseline') await baseline();
else if (role === 'llm') await llm();
else throw new Error(`unknown role "${role}"`);
