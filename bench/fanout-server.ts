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
  | { id: number; cmd: 'held'; n: number }
  | ({ id: number; cmd: 'release' } & Schedule)
  | ({ id: number; cmd: 'publish'; topics: string[] } & Schedule);

export interface Memory {
  rss: number;
  heapUsed: number;
  external: number;
  arrayBuffers: number;
}

/** The text of event/token `i`: "token 17 " padded to `chars` (the chat writer commits one event per >= 40 characters). */
const tokenText = (i: number, chars: number): string => `token ${i} `.padEnd(chars, '~');

const role = process.argv[2] as Role;
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
  process.on('message', (r: Request) => {
    if (r.cmd === 'mem') reply(r.id, memory());
    if (r.cmd === 'cpu') reply(r.id, process.cpuUsage());
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
