// bench:fanout — one execution producing events at a high rate, watched by 100, 1,000 and 5,000
// graphql-ws jobProgress subscribers. The event source is a real chat answer: the Sluice server (a
// child process) asks an OpenAI-compatible endpoint (another child) that holds the answer until every
// subscriber is in place and then streams tokens of 48 characters on a fixed schedule; the chat job
// commits one TOKEN event per token (fenced write to SQLite, publish after commit) and the events fan
// out through replayThenLive and graphql-ws. Baseline, in the same run and on the same host: a bare
// graphql-yoga + graphql-ws server (same package versions) with a trivial schema of the same shape,
// whose publisher sends the same number of events through createPubSub on the same schedule.
//
// Subscribers are raw graphql-transport-ws clients in this process (one subscription per WebSocket by
// default, as browsers do; --per-connection=K multiplexes). Servers run in child processes started
// with --expose-gc, so their memory figures exclude the clients: idle memory per subscriber is
// (heapUsed or RSS after N idle subscriptions - before) / N, each read after a full collection.
// Delivery lag is receipt time (Date.now() here) - the event's `at` (set by the server when the event
// is written, i.e. just before publish); both processes share the host clock.
import { fork, type ChildProcess } from 'node:child_process';
import { loadavg } from 'node:os';
import { fileURLToPath } from 'node:url';
import WebSocket from 'ws';
import { startFactSite } from '../test/fixtures/fact-site.ts';
import type { Site } from '../test/fixtures/site.ts';
import { closeHttp, intOption, machine, percentile, postGraphql } from './lib.ts';
import type { Memory, Role, Schedule } from './fanout-server.ts';

const levels = listOption('subscribers', [100, 1000, 5000]);
const perConnection = Math.max(1, intOption('per-connection', 1));
const runs = Math.max(1, intOption('runs', 1));
const schedule: Schedule = { count: intOption('events', 100), intervalMs: intOption('interval-ms', 5), chars: 48 };
const warmup = 50;
const targetThroughput = 0.9;
const targetBytesPerSubscriber = 20 * 1024;
const serverFile = fileURLToPath(new URL('fanout-server.ts', import.meta.url));

const QUERY = /* GraphQL */ `
  subscription ($id: ID!) {
    jobProgress(executionId: $id) {
      executionId seq at type status message
      progress { stage percent pagesDiscovered pagesFetched pagesFailed pagesSkipped bytesFetched chunksStored }
    }
  }
`;

function listOption(name: string, fallback: number[]): number[] {
  const flag = process.argv.find((a) => a.startsWith(`--${name}=`));
  const raw = flag ? flag.slice(name.length + 3) : process.env[`BENCH_${name.toUpperCase()}`];
  if (!raw) return fallback;
  return raw.split(',').map((v) => {
    const n = Number(v);
    if (!Number.isInteger(n) || n <= 0) throw new Error(`--${name} takes whole numbers separated by commas; it is "${raw}"`);
    return n;
  });
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

// --- child processes ----------------------------------------------------------------------------

interface Child {
  url: string;
  process: ChildProcess;
  call<T>(request: Record<string, unknown> & { cmd: string }): Promise<T>;
  stop(): Promise<void>;
}

function startChild(role: Role, args: string[] = []): Promise<Child> {
  // BENCH_CPU_PROF=<dir>: a V8 CPU profile of each server process, written when it exits.
  const profile = process.env.BENCH_CPU_PROF && role !== 'llm' ? ['--cpu-prof', `--cpu-prof-dir=${process.env.BENCH_CPU_PROF}`] : [];
  const child = fork(serverFile, [role, ...args], { execArgv: ['--expose-gc', ...profile, '--import', 'tsx'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const pending = new Map<number, (value: unknown) => void>();
  let nextId = 1;
  return new Promise((resolve, reject) => {
    child.once('error', reject);
    child.once('exit', (code) => reject(new Error(`${role} server exited with code ${code} before it was ready`)));
    child.on('message', (message: { url?: string; id?: number; value?: unknown }) => {
      if (message.url) {
        resolve({
          url: message.url,
          process: child,
          call: <T>(request: Record<string, unknown>) =>
            new Promise<T>((done) => {
              const id = nextId++;
              pending.set(id, done as (value: unknown) => void);
              child.send({ ...request, id });
            }),
          stop: async () => {
            if (child.exitCode !== null) return;
            const exited = new Promise((done) => child.once('exit', done));
            child.disconnect();
            const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
            await exited;
            clearTimeout(timer);
          },
        });
      } else if (message.id !== undefined) {
        pending.get(message.id)?.(message.value);
        pending.delete(message.id);
      }
    });
  });
}

// --- subscribers ---------------------------------------------------------------------------------

interface Sub {
  ready: boolean;
  completed: boolean;
  streamed: number;
  error: string | null;
}

/** N jobProgress subscriptions of one execution over raw graphql-transport-ws sockets. */
class Fleet {
  readonly subs: Sub[] = [];
  readonly sockets: WebSocket[] = [];
  readonly lags: number[] = [];
  streaming = false;
  deliveries = 0;
  firstAt = Infinity;
  lastReceipt = 0;
  readyCount = 0;
  doneCount = 0;
  private waiters: (() => void)[] = [];

  static async open(url: string, executionId: string, n: number, perSocket: number): Promise<Fleet> {
    const fleet = new Fleet();
    const sockets = Math.ceil(n / perSocket);
    for (let first = 0; first < sockets; first += 200) {
      const batch = Array.from({ length: Math.min(200, sockets - first) }, () => fleet.connect(url));
      fleet.sockets.push(...(await Promise.all(batch)));
    }
    for (let s = 0; s < n; s++) {
      fleet.subs.push({ ready: false, completed: false, streamed: 0, error: null });
      const socket = fleet.sockets[Math.floor(s / perSocket)]!;
      socket.send(JSON.stringify({ id: String(s), type: 'subscribe', payload: { query: QUERY, variables: { id: executionId } } }));
    }
    return fleet;
  }

  private connect(url: string): Promise<WebSocket> {
    const socket = new WebSocket(`${url.replace('http', 'ws')}/graphql`, 'graphql-transport-ws', { perMessageDeflate: false });
    return new Promise((resolve, reject) => {
      socket.once('error', reject);
      socket.once('open', () => socket.send('{"type":"connection_init","payload":{}}'));
      socket.on('message', (data) => {
        const message = JSON.parse(String(data)) as { id?: string; type: string; payload?: any };
        if (message.type === 'connection_ack') resolve(socket);
        else if (message.type === 'ping') socket.send('{"type":"pong"}');
        else this.onMessage(message);
      });
      socket.on('close', () => this.notify());
    });
  }

  private onMessage(message: { id?: string; type: string; payload?: any }): void {
    const sub = this.subs[Number(message.id)];
    if (!sub) return;
    if (message.type === 'next') {
      const event = message.payload?.data?.jobProgress as { at: string; type: string; status: string } | undefined;
      if (!event) {
        sub.error = JSON.stringify(message.payload?.errors ?? message.payload);
        return;
      }
      if (this.streaming) {
        const now = Date.now();
        const at = Date.parse(event.at);
        this.lags.push(now - at);
        this.deliveries++;
        sub.streamed++;
        if (at < this.firstAt) this.firstAt = at;
        this.lastReceipt = now;
      } else if (!sub.ready && event.type === 'STATUS' && event.status === 'RUNNING') {
        sub.ready = true;
        this.readyCount++;
        this.notify();
      }
    } else if (message.type === 'complete' || message.type === 'error') {
      if (message.type === 'error') sub.error = JSON.stringify(message.payload);
      if (!sub.completed) this.doneCount++;
      sub.completed = true;
      this.notify();
    }
  }

  private notify(): void {
    this.waiters.splice(0).forEach((w) => w());
  }

  /** Resolves once `predicate` holds (checked on every readiness or completion); rejects after `timeoutMs`. */
  waitFor(what: string, predicate: () => boolean, timeoutMs: number): Promise<void> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what}`)), timeoutMs);
      const check = () => {
        if (predicate()) {
          clearTimeout(timer);
          resolve();
        } else this.waiters.push(check);
      };
      check();
    });
  }

  close(): Promise<void> {
    return Promise.all(
      this.sockets.map(
        (s) =>
          new Promise<void>((done) => {
            if (s.readyState === WebSocket.CLOSED) return done();
            s.once('close', () => done());
            s.terminate();
          }),
      ),
    ).then(() => undefined);
  }
}

// --- one measurement -------------------------------------------------------------------------------

interface Result {
  system: 'sluice' | 'baseline';
  n: number;
  sockets: number;
  heapPerSub: number;
  rssPerSub: number;
  eventsPerSub: number;
  deliveries: number;
  windowMs: number;
  producedMs: number;
  perSecond: number;
  lag: { p50: number; p99: number; max: number };
  serverCpuMs: number;
  clientCpuMs: number;
  problems: string[];
}

const EXECUTION = 'query ($id: ID!) { execution(id: $id) { status } }';

/** A fresh Sluice server with a small knowledge base, and a chat answer RUNNING and waiting on the model. */
async function sluiceExecution(server: Child, llm: Child, site: Site): Promise<string> {
  const crawl = await postGraphql<{ startCrawl: { id: string } }>(server.url, 'mutation ($input: StartCrawlInput!) { startCrawl(input: $input) { id } }', {
    input: { url: site.url, maxDepth: 2, respectRobotsTxt: false },
  });
  const crawlId = crawl.data?.startCrawl.id;
  if (!crawlId) throw new Error(`startCrawl: ${JSON.stringify(crawl.errors)}`);
  for (let status = ''; status !== 'SUCCEEDED'; await sleep(50)) {
    status = (await postGraphql<{ execution: { status: string } }>(server.url, EXECUTION, { id: crawlId })).data!.execution.status;
    if (['FAILED', 'CANCELLED', 'INTERRUPTED'].includes(status)) throw new Error(`the seeding crawl ended ${status}`);
  }
  const sent = await postGraphql<{ sendChatMessage: { id: string } }>(server.url, 'mutation ($input: SendChatMessageInput!) { sendChatMessage(input: $input) { id } }', {
    input: { text: 'Which port does the gateway listen on?' },
  });
  const id = sent.data?.sendChatMessage.id;
  if (!id) throw new Error(`sendChatMessage: ${JSON.stringify(sent.errors)}`);
  await llm.call({ cmd: 'held', n: 1 });
  return id;
}

async function measure(system: Result['system'], n: number, site: Site, llm: Child): Promise<Result> {
  const server = await startChild(system, system === 'sluice' ? [llm.url] : []);
  const problems: string[] = [];
  let fleet: Fleet | null = null;
  try {
    const executionId = system === 'sluice' ? await sluiceExecution(server, llm, site) : 'bench-topic';
    // Warm-up: the code paths of a subscription are compiled and pools allocated before "before".
    const warm = await Fleet.open(server.url, executionId, warmup, 1);
    await warm.waitFor('warm-up subscribers', () => warm.readyCount === warmup, 60_000);
    await warm.close();
    await sleep(500);

    const before = await server.call<Memory>({ cmd: 'mem' });
    fleet = await Fleet.open(server.url, executionId, n, perConnection);
    const f = fleet;
    await f.waitFor(`${n} subscribers to be ready`, () => f.readyCount + f.subs.filter((s) => s.error).length === n, 300_000);
    await sleep(1000);
    const after = await server.call<Memory>({ cmd: 'mem' });

    const serverCpu0 = await server.call<NodeJS.CpuUsage>({ cmd: 'cpu' });
    const clientCpu0 = process.cpuUsage();
    f.streaming = true;
    const produced = performance.now();
    void (system === 'sluice'
      ? llm.call({ cmd: 'release', ...schedule })
      : server.call({ cmd: 'publish', topic: executionId, ...schedule }));
    await f.waitFor('every subscription to complete', () => f.doneCount === n, 600_000).catch((error: Error) => problems.push(error.message));
    const clientCpu = process.cpuUsage(clientCpu0);
    const serverCpu1 = await server.call<NodeJS.CpuUsage>({ cmd: 'cpu' });
    void produced;

    const errors = f.subs.filter((s) => s.error);
    if (errors.length) problems.push(`${errors.length} subscriptions failed, e.g. ${errors[0]!.error}`);
    const counts = new Set(f.subs.map((s) => s.streamed));
    if (counts.size > 1) problems.push(`subscribers received different numbers of events: ${[...counts].slice(0, 5).join(', ')}`);
    const windowMs = f.lastReceipt - f.firstAt;
    const lagValues = f.lags;
    return {
      system,
      n,
      sockets: f.sockets.length,
      heapPerSub: (after.heapUsed + after.external - before.heapUsed - before.external) / n,
      rssPerSub: (after.rss - before.rss) / n,
      eventsPerSub: f.deliveries / n,
      deliveries: f.deliveries,
      windowMs,
      producedMs: schedule.count * schedule.intervalMs,
      perSecond: (1000 * f.deliveries) / windowMs,
      lag: { p50: percentile(lagValues, 50), p99: percentile(lagValues, 99), max: percentile(lagValues, 100) },
      serverCpuMs: (serverCpu1.user + serverCpu1.system - serverCpu0.user - serverCpu0.system) / 1000,
      clientCpuMs: (clientCpu.user + clientCpu.system) / 1000,
      problems,
    };
  } finally {
    await fleet?.close();
    await server.stop();
  }
}

// --- report --------------------------------------------------------------------------------------

const kib = (bytes: number) => `${(bytes / 1024).toFixed(1)} KiB`;
const pad = (value: string | number, width: number) => String(value).padStart(width);

function row(r: Result, run: number): string {
  return [
    pad(run, 3),
    r.system.padEnd(8),
    pad(r.n, 5),
    pad(r.sockets, 5),
    pad(kib(r.heapPerSub), 10),
    pad(kib(r.rssPerSub), 10),
    pad(r.eventsPerSub.toFixed(0), 6),
    pad(r.windowMs.toFixed(0), 7),
    pad(r.perSecond.toFixed(0), 9),
    pad(r.lag.p50.toFixed(0), 7),
    pad(r.lag.p99.toFixed(0), 7),
    pad(r.lag.max.toFixed(0), 7),
    pad(r.serverCpuMs.toFixed(0), 8),
    pad(r.clientCpuMs.toFixed(0), 8),
    r.problems.length ? `  ${r.problems.join('; ')}` : '',
  ].join(' ');
}

const HEADER =
  'run system    subs  sockets heap/sub   RSS/sub  events  window  events/s  lag p50 lag p99 lag max  srv CPU  cli CPU\n' +
  '                             (idle)     (idle)   /sub      ms delivered       ms      ms      ms       ms       ms';

const median = (values: number[]) => percentile(values, 50);

async function main(): Promise<void> {
  console.log(
    `bench:fanout  one execution, ${schedule.count} events of ${schedule.chars} characters, one every ${schedule.intervalMs} ms ` +
      `(${((1000 * 1) / schedule.intervalMs).toFixed(0)}/s); subscribers ${levels.join(', ')}; ${perConnection} subscription(s) per WebSocket; ${runs} run(s)`,
  );
  console.log(`machine: ${machine()}; load average ${loadavg().map((l) => l.toFixed(1)).join(' ')}`);
  const site = await startFactSite();
  const llm = await startChild('llm');
  const results: { run: number; r: Result }[] = [];
  console.log('');
  console.log(HEADER);
  try {
    for (let run = 1; run <= runs; run++) {
      for (const n of levels) {
        for (const system of ['sluice', 'baseline'] as const) {
          const r = await measure(system, n, site, llm);
          results.push({ run, r });
          console.log(row(r, run));
        }
      }
    }
  } finally {
    closeHttp();
    await llm.stop();
    await site.close();
  }

  console.log('');
  let ok = true;
  for (const n of levels) {
    const of = (system: Result['system']) => results.filter((x) => x.r.n === n && x.r.system === system).map((x) => x.r);
    const s = of('sluice');
    const b = of('baseline');
    const ratio = median(s.map((r) => r.perSecond)) / median(b.map((r) => r.perSecond));
    const heap = median(s.map((r) => r.heapPerSub));
    const rss = median(s.map((r) => r.rssPerSub));
    const problems = s.concat(b).some((r) => r.problems.length > 0);
    const met = ratio >= targetThroughput && Math.max(heap, rss) <= targetBytesPerSubscriber && !problems;
    ok &&= met;
    console.log(
      `${pad(n, 5)} subscribers: Sluice/baseline delivered events/s ${(100 * ratio).toFixed(0)}% (target >= ${100 * targetThroughput}%); ` +
        `Sluice idle memory per subscriber heap ${kib(heap)}, RSS ${kib(rss)} (baseline ${kib(median(b.map((r) => r.heapPerSub)))}, ${kib(median(b.map((r) => r.rssPerSub)))}; target <= 20 KiB)` +
        `${problems ? '; PROBLEMS above' : ''} -> ${met ? 'met' : 'NOT met'}`,
    );
  }
  // The averages above carry one-time costs (compiled queries, caches, JIT code) spread over the
  // subscribers; the slope between the two largest levels is what one more idle subscriber costs.
  if (levels.length >= 2) {
    const [small, large] = [...levels].sort((x, y) => x - y).slice(-2) as [number, number];
    for (const system of ['sluice', 'baseline'] as const) {
      const heapAt = (n: number) => median(results.filter((x) => x.r.n === n && x.r.system === system).map((x) => x.r.heapPerSub)) * n;
      console.log(`marginal heap per idle subscriber, ${system}: ${kib((heapAt(large) - heapAt(small)) / (large - small))} (from ${small} to ${large})`);
    }
  }
  console.log(`load average at the end ${loadavg().map((l) => l.toFixed(1)).join(' ')}`);
  if (!ok) process.exitCode = 1;
}

await main();
