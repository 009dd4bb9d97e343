// bench:fanout — what one more watcher costs the server. The headline is the server's own CPU per
// delivered message (process.cpuUsage of the server process over the streaming window / messages
// delivered), for Sluice and, in the same run on the same host, a bare graphql-yoga + graphql-ws
// server (same package versions, a trivial schema of the same shape, createPubSub, the graphql-ws
// recipe from the Yoga docs).
//
// Processes: this one only orchestrates; the server under test, the subscribers (bench/fanout-clients.ts)
// and an OpenAI-compatible model (the event source) each run in their own child process, so no figure
// of the server includes a client's work. Sluice's events are real: chat answers whose model (the llm
// child) holds every request until the subscribers are in place, then streams 48-character tokens on a
// fixed schedule; each token is a committed TOKEN event (SQLite, published after commit) fanned out
// through graphql-ws. The baseline publishes the same number of events on the same schedule.
//
// Scenarios:
//   one   N jobProgress subscribers of one execution, one subscription per WebSocket (as browsers
//         do), at 100 / 1,000 / 10,000 (--subscribers). With Sluice, cancelExecution round trips are
//         timed with no subscriber and again with the N idle ones (--cancels of them).
//   tabs  --tabs tabs, each one WebSocket with executionChanged + 5 jobProgress cards, over 100
//         running executions (--executions), each card a different one.
// Idle memory per subscriber: (heapUsed + external after N idle subscriptions - before) / N, read in
// the server after full collections (it runs with --expose-gc).
import { fork, type ChildProcess } from 'node:child_process';
import { loadavg } from 'node:os';
import { fileURLToPath } from 'node:url';
import { startFactSite } from '../test/fixtures/fact-site.ts';
import type { Site } from '../test/fixtures/site.ts';
import type { ClientStats, SocketPlan } from './fanout-clients.ts';
import type { Memory, Role, Schedule, Watch } from './fanout-server.ts';
import { closeHttp, intOption, machine, percentile, postGraphql } from './lib.ts';

const levels = listOption('subscribers', [100, 1000, 10_000]);
const systems = (process.argv.find((a) => a.startsWith('--systems='))?.slice(10) ?? 'sluice,baseline').split(',') as Result['system'][];
const scenarios = (process.argv.find((a) => a.startsWith('--scenarios='))?.slice(12) ?? 'one,tabs').split(',');
const tabs = intOption('tabs', 200);
const executions = intOption('executions', 100);
const cancels = intOption('cancels', 200);
const budget = intOption('deliveries', 200_000);
const intervalMs = intOption('interval-ms', 5);
const targetCpuRatio = 0.25;
const targetHeap = 10 * 1024;
const targetCancelP99 = 25;
const here = (file: string) => fileURLToPath(new URL(file, import.meta.url));

const JOB_PROGRESS = /* GraphQL */ `
  subscription ($id: ID!) {
    jobProgress(executionId: $id) {
      executionId seq at type status message
      progress { stage percent pagesDiscovered pagesFetched pagesFailed pagesSkipped bytesFetched chunksStored }
    }
  }
`;
const EXECUTION_CHANGED = /* GraphQL */ `
  subscription { executionChanged { id kind status title lastSeq progress { stage percent } } }
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

/** BENCH_SERVER_FLAGS: more node flags for the server under test (e.g. --trace-gc, --max-semi-space-size=16). */
const serverFlags = (process.env.BENCH_SERVER_FLAGS ?? '').split(' ').filter(Boolean);

function startChild(file: string, args: string[], server: boolean): Promise<Child> {
  const execArgv = [...(server ? ['--expose-gc', ...serverFlags] : []), '--import', 'tsx'];
  const child = fork(file, args, { execArgv, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const pending = new Map<number, (value: unknown) => void>();
  let nextId = 1;
  return new Promise((resolve, reject) => {
    child.once('error', reject);
    child.once('exit', (code) => reject(new Error(`${file} ${args[0] ?? ''} exited with code ${code} before it was ready`)));
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

const server = (role: Role, args: string[] = []) => startChild(here('fanout-server.ts'), [role, ...args], true);
const clients = () => startChild(here('fanout-clients.ts'), [], false);

// --- Sluice set-up ---------------------------------------------------------------------------------

const EXECUTION = 'query ($id: ID!) { execution(id: $id) { status } }';
const SEND = 'mutation ($input: SendChatMessageInput!) { sendChatMessage(input: $input) { id } }';

/** A small knowledge base (so chat answers have sources), then `n` chat answers RUNNING, waiting on the model. */
async function sluiceChats(target: Child, llm: Child, site: Site, n: number, held: number): Promise<string[]> {
  const crawl = await postGraphql<{ startCrawl: { id: string } }>(target.url, 'mutation ($input: StartCrawlInput!) { startCrawl(input: $input) { id } }', {
    input: { url: site.url, maxDepth: 2, respectRobotsTxt: false },
  });
  const crawlId = crawl.data?.startCrawl.id;
  if (!crawlId) throw new Error(`startCrawl: ${JSON.stringify(crawl.errors)}`);
  for (let status = ''; status !== 'SUCCEEDED'; await sleep(50)) {
    status = (await postGraphql<{ execution: { status: string } }>(target.url, EXECUTION, { id: crawlId })).data!.execution.status;
    if (['FAILED', 'CANCELLED', 'INTERRUPTED'].includes(status)) throw new Error(`the seeding crawl ended ${status}`);
  }
  return startChats(target, llm, n, held);
}

async function startChats(target: Child, llm: Child, n: number, held: number): Promise<string[]> {
  const ids: string[] = [];
  for (let i = 0; i < n; i++) {
    const sent = await postGraphql<{ sendChatMessage: { id: string } }>(target.url, SEND, { input: { text: `Which port does the gateway listen on? (${i})` } });
    const id = sent.data?.sendChatMessage.id;
    if (!id) throw new Error(`sendChatMessage: ${JSON.stringify(sent.errors)}`);
    ids.push(id);
  }
  await llm.call({ cmd: 'held', n: held + n });
  return ids;
}

/**
 * Round trips of cancelExecution, one after another, each on a chat answer that is RUNNING; the
 * server's GC pauses and event-loop delay over the same window.
 */
async function cancelLatencies(target: Child, llm: Child, held: number, label: string): Promise<CancelRound> {
  const ids = await startChats(target, llm, cancels, held);
  const times: number[] = [];
  await target.call({ cmd: 'watch', label });
  for (const id of ids) {
    const started = performance.now();
    const res = await postGraphql<{ cancelExecution: { accepted: boolean } }>(target.url, 'mutation ($id: ID!) { cancelExecution(id: $id) { accepted } }', { id });
    times.push(performance.now() - started);
    if (!res.data?.cancelExecution.accepted) throw new Error(`cancel: ${JSON.stringify(res)}`);
  }
  return { times, server: await target.call<Watch>({ cmd: 'unwatch' }) };
}

/** The streamed executions that did not end SUCCEEDED, with their status and error (a subscriber then gets fewer events). */
async function endedOtherwise(target: Child, ids: string[]): Promise<string[]> {
  const out: string[] = [];
  for (const id of ids) {
    const row = (await postGraphql<{ execution: { status: string; error: string | null } }>(target.url, 'query ($id: ID!) { execution(id: $id) { status error } }', { id })).data?.execution;
    if (row?.status !== 'SUCCEEDED') out.push(`execution ${id} ended ${row?.status ?? 'unknown'}${row?.error ? `: ${row.error}` : ''}`);
  }
  return out.length > 3 ? [...out.slice(0, 3), `and ${out.length - 3} more executions not SUCCEEDED`] : out;
}

interface CancelRound {
  times: number[];
  server: Watch;
}

/**
 * The server CPU of producing the same streams with no subscriber: the chat jobs, their model
 * streams and their committed events. Sluice's figure includes this work and the baseline's
 * (an in-process publisher) has none, so it is shown apart.
 */
async function sluiceProduction(target: Child, llm: Child, plan: Plan): Promise<number> {
  await startChats(target, llm, plan.streams, 0);
  const profiled = Boolean(process.env.BENCH_CPU_PROFILE);
  if (profiled) await target.call({ cmd: 'watch', label: `producing-${plan.scenario}` });
  const cpu0 = await target.call<NodeJS.CpuUsage>({ cmd: 'cpu' });
  await llm.call({ cmd: 'release', count: plan.events, intervalMs, chars: 48 });
  for (;;) {
    const active = await postGraphql<{ activeExecutions: unknown[] }>(target.url, '{ activeExecutions { id } }', {});
    if (active.data?.activeExecutions.length === 0) break;
    await sleep(20);
  }
  const cpu1 = await target.call<NodeJS.CpuUsage>({ cmd: 'cpu' });
  if (profiled) await target.call({ cmd: 'unwatch' });
  return (cpu1.user + cpu1.system - cpu0.user - cpu0.system) / 1000;
}

// --- one measurement -------------------------------------------------------------------------------

interface Result {
  scenario: string;
  system: 'sluice' | 'baseline';
  subs: number;
  sockets: number;
  heapPerSub: number;
  deliveries: number;
  serverCpuMs: number;
  cpuPerDeliveryUs: number;
  /** Server CPU of producing the same events with no subscriber (Sluice's jobs and store; 0 for the baseline). */
  productionMs: number;
  /** (server CPU - production) / deliveries: what the fan-out itself costs per delivery. */
  fanoutPerDeliveryUs: number;
  clientCpuMs: number;
  lag: { p50: number; p99: number };
  cancel?: { idle0: CancelRound; idleN: CancelRound };
  problems: string[];
}

interface Plan {
  scenario: string;
  /** Executions (Sluice) or topics (baseline) that stream. */
  streams: number;
  sockets: (ids: string[]) => SocketPlan[];
  events: number;
}

function onePlan(n: number): Plan {
  return {
    scenario: 'one',
    streams: 1,
    events: Math.max(20, Math.min(100, Math.round(budget / n))),
    sockets: (ids) => Array.from({ length: n }, () => ({ subscriptions: [{ query: JOB_PROGRESS, variables: { id: ids[0] }, field: 'jobProgress', completes: true }] })),
  };
}

function tabsPlan(): Plan {
  return {
    scenario: 'tabs',
    streams: executions,
    events: Math.max(20, Math.min(100, Math.round(budget / (tabs * 5)))),
    sockets: (ids) =>
      Array.from({ length: tabs }, (_, t) => ({
        subscriptions: [
          { query: EXECUTION_CHANGED, variables: {}, field: 'executionChanged', completes: false },
          ...Array.from({ length: 5 }, (_, c) => ({ query: JOB_PROGRESS, variables: { id: ids[(t * 5 + c) % ids.length] }, field: 'jobProgress', completes: true })),
        ],
      })),
  };
}

async function measure(system: Result['system'], plan: Plan, site: Site, llm: Child, withCancels: boolean): Promise<Result> {
  const target = await server(system, system === 'sluice' ? [llm.url, String(plan.streams + cancels + 8)] : []);
  const fleet = await clients();
  const problems: string[] = [];
  try {
    const ids =
      system === 'sluice' ? await sluiceChats(target, llm, site, plan.streams, 0) : Array.from({ length: plan.streams }, (_, i) => `topic-${i}`);
    const sockets = plan.sockets(ids);
    // Warm-up: the code paths of a subscription are compiled before "before".
    const warm = await clients();
    await warm.call({ cmd: 'open', url: target.url, sockets: sockets.slice(0, 50) });
    await warm.call({ cmd: 'close' });
    await warm.stop();
    await sleep(300);

    const timed = withCancels && system === 'sluice';
    const idle0 = timed ? await cancelLatencies(target, llm, plan.streams, 'idle0') : null;
    const before = await target.call<Memory>({ cmd: 'mem' });
    const subs = await fleet.call<number>({ cmd: 'open', url: target.url, sockets });
    await sleep(500);
    const after = await target.call<Memory>({ cmd: 'mem' });
    const idleN = timed ? await cancelLatencies(target, llm, plan.streams + cancels, `idle${subs}`) : null;

    await fleet.call({ cmd: 'stream' });
    // BENCH_CPU_PROFILE: Sluice's streaming window profiled too (the profiler's own cost is in its figures then).
    const profiled = system === 'sluice' && Boolean(process.env.BENCH_CPU_PROFILE);
    if (profiled) await target.call({ cmd: 'watch', label: `stream-${plan.scenario}-${sockets.length}` });
    const cpu0 = await target.call<NodeJS.CpuUsage>({ cmd: 'cpu' });
    const schedule: Schedule = { count: plan.events, intervalMs, chars: 48 };
    void (system === 'sluice' ? llm.call({ cmd: 'release', ...schedule }) : target.call({ cmd: 'publish', topics: ids, ...schedule }));
    const stats = await fleet.call<ClientStats>({ cmd: 'done', timeoutMs: 600_000, extra: plan.scenario === 'tabs' ? 1000 : 0 });
    const cpu1 = await target.call<NodeJS.CpuUsage>({ cmd: 'cpu' });
    if (profiled) await target.call({ cmd: 'unwatch' });
    // Producing is measured with no subscriber left (the tabs' executionChanged would still get the
    // new executions' status changes otherwise).
    await fleet.call({ cmd: 'close' });
    await fleet.stop();
    const productionMs = system === 'sluice' ? await sluiceProduction(target, llm, plan) : 0;
    problems.push(...stats.errors);
    if (system === 'sluice') problems.push(...(await endedOtherwise(target, ids)));
    if (stats.counts.length > 1) problems.push(`subscribers received different numbers of events: ${stats.counts.join(', ')}`);
    const serverCpuMs = (cpu1.user + cpu1.system - cpu0.user - cpu0.system) / 1000;
    return {
      scenario: plan.scenario,
      system,
      subs,
      sockets: sockets.length,
      heapPerSub: (after.heapUsed + after.external - before.heapUsed - before.external) / subs,
      deliveries: stats.deliveries,
      serverCpuMs,
      cpuPerDeliveryUs: (1000 * serverCpuMs) / stats.deliveries,
      productionMs,
      fanoutPerDeliveryUs: (1000 * (serverCpuMs - productionMs)) / stats.deliveries,
      clientCpuMs: stats.cpuMs,
      lag: { p50: percentile(stats.lags, 50), p99: percentile(stats.lags, 99) },
      cancel: idle0 && idleN ? { idle0, idleN } : undefined,
      problems,
    };
  } finally {
    if (fleet.process.connected) await fleet.call({ cmd: 'close' }).catch(() => undefined);
    await fleet.stop();
    await target.stop();
  }
}

// --- report --------------------------------------------------------------------------------------

const kib = (bytes: number) => `${(bytes / 1024).toFixed(1)} KiB`;
const pad = (value: string | number, width: number) => String(value).padStart(width);

const HEADER =
  'scenario system     subs sockets  deliveries  srv CPU ms  srv CPU/delivery  producing ms  fan-out/delivery  heap/idle sub  lag p50  lag p99  cli CPU ms';

function row(r: Result): string {
  return [
    r.scenario.padEnd(8),
    r.system.padEnd(8),
    pad(r.subs, 7),
    pad(r.sockets, 7),
    pad(r.deliveries, 11),
    pad(r.serverCpuMs.toFixed(0), 11),
    pad(`${r.cpuPerDeliveryUs.toFixed(2)} µs`, 17),
    pad(r.productionMs.toFixed(0), 13),
    pad(`${r.fanoutPerDeliveryUs.toFixed(2)} µs`, 17),
    pad(kib(r.heapPerSub), 14),
    pad(r.lag.p50.toFixed(0), 8),
    pad(r.lag.p99.toFixed(0), 8),
    pad(r.clientCpuMs.toFixed(0), 11),
    r.problems.length ? `  ${r.problems.join('; ')}` : '',
  ].join(' ');
}

/** The cancel rounds of a result and their verdict (true when there are none). */
function printCancels(s: Result): boolean {
  if (!s.cancel) return true;
  const { idle0, idleN } = s.cancel;
  const p99 = percentile(idleN.times, 99);
  const cancelOk = p99 <= targetCancelP99;
  const server = (w: Watch) =>
    `server: ${w.gcCount} GC pauses ${w.gcMs.toFixed(0)} ms (max ${w.gcMaxMs.toFixed(1)} ms; ${w.majorCount} mark-compact ${w.majorMs.toFixed(0)} ms), event-loop delay p99 ${w.loopP99.toFixed(1)} ms max ${w.loopMax.toFixed(1)} ms`;
  console.log(
    `     cancelExecution round trip (${cancels} cancels of running executions): no subscriber p50 ${percentile(idle0.times, 50).toFixed(1)} ms p99 ${percentile(idle0.times, 99).toFixed(1)} ms max ${Math.max(...idle0.times).toFixed(1)} ms; ` +
      `with ${s.subs} idle subscribers p50 ${percentile(idleN.times, 50).toFixed(1)} ms p99 ${p99.toFixed(1)} ms max ${Math.max(...idleN.times).toFixed(1)} ms (target p99 <= ${targetCancelP99} ms) -> ${cancelOk ? 'met' : 'NOT met'}`,
  );
  console.log(`       no subscriber ${server(idle0.server)}`);
  console.log(`       ${s.subs} idle    ${server(idleN.server)}`);
  return cancelOk;
}

async function main(): Promise<void> {
  console.log(
    `bench:fanout  scenarios ${scenarios.join(', ')}; one: ${levels.join(', ')} subscribers of one execution; tabs: ${tabs} tabs x (executionChanged + 5 jobProgress) over ${executions} executions; ` +
      `events every ${intervalMs} ms, about ${budget} deliveries per measurement (20..100 events per stream)`,
  );
  console.log(`machine: ${machine()}; load average ${loadavg().map((l) => l.toFixed(1)).join(' ')}`);
  const site = await startFactSite();
  const llm = await server('llm');
  const results: Result[] = [];
  console.log('');
  console.log(HEADER);
  const plans: { plan: Plan; cancels: boolean }[] = [];
  if (scenarios.includes('one')) for (const n of levels) plans.push({ plan: onePlan(n), cancels: n === Math.max(...levels) });
  if (scenarios.includes('tabs')) plans.push({ plan: tabsPlan(), cancels: false });
  try {
    for (const { plan, cancels: timed } of plans) {
      for (const system of systems) {
        const r = await measure(system, plan, site, llm, timed);
        results.push(r);
        console.log(row(r));
      }
    }
  } finally {
    closeHttp();
    await llm.stop();
    await site.close();
  }

  console.log('');
  let ok = true;
  for (const { plan } of plans) {
    const s = results.find((r) => r.system === 'sluice' && r.scenario === plan.scenario && r.sockets === plan.sockets(['x']).length)!;
    const b = results.find((r) => r.system === 'baseline' && r.scenario === plan.scenario && r.sockets === s.sockets);
    if (!b) {
      console.log(`${plan.scenario.padEnd(4)} ${pad(s.subs, 6)} subscribers: no baseline in this run (--systems), no verdict`);
      printCancels(s);
      ok = false;
      continue;
    }
    const ratio = s.cpuPerDeliveryUs / b.cpuPerDeliveryUs;
    const cpuTarget = plan.scenario === 'tabs' || s.subs >= 1000;
    const heapOk = s.heapPerSub <= targetHeap;
    const problems = s.problems.length + b.problems.length > 0;
    const met = (!cpuTarget || ratio <= targetCpuRatio) && heapOk && !problems;
    ok &&= met;
    console.log(
      `${plan.scenario.padEnd(4)} ${pad(s.subs, 6)} subscribers: server CPU per delivery ${s.cpuPerDeliveryUs.toFixed(2)} µs vs baseline ${b.cpuPerDeliveryUs.toFixed(2)} µs = ${(100 * ratio).toFixed(0)}%` +
        `${cpuTarget ? ` (target <= ${100 * targetCpuRatio}%)` : ''}; without producing the events ${s.fanoutPerDeliveryUs.toFixed(2)} µs = ${((100 * s.fanoutPerDeliveryUs) / b.cpuPerDeliveryUs).toFixed(0)}%; heap per idle subscriber ${kib(s.heapPerSub)} (baseline ${kib(b.heapPerSub)}; target <= 10 KiB)` +
        `${problems ? '; PROBLEMS above' : ''} -> ${met ? 'met' : 'NOT met'}`,
    );
    ok &&= printCancels(s);
  }
  // The averages carry one-time costs (compiled code, caches) spread over the subscribers; the slope
  // between the two largest levels is what one more idle subscriber costs.
  const ones = (system: Result['system']) => results.filter((r) => r.scenario === 'one' && r.system === system).sort((x, y) => x.subs - y.subs);
  for (const system of systems) {
    if (ones(system).length >= 2) {
      const [small, large] = ones(system).slice(-2) as [Result, Result];
      const marginal = (large.heapPerSub * large.subs - small.heapPerSub * small.subs) / (large.subs - small.subs);
      console.log(`marginal heap per idle subscriber, ${system}: ${kib(marginal)} (from ${small.subs} to ${large.subs})`);
    }
  }
  console.log(`load average at the end ${loadavg().map((l) => l.toFixed(1)).join(' ')}`);
  if (!ok) process.exitCode = 1;
}

await main();
