// bench:cancel — how fast a Stop reaches every watcher. 100 crawls stuck on a slow local site, 200
// jobProgress subscribers over 20 graphql-ws connections; each execution is cancelled over HTTP (one
// at a time by default, in a random order) and we time, per subscriber, the cancel request to the
// CANCELLED event. Baseline: the same subscribers receiving a plain LOG event through the engine's own
// path (fenced write + publish after commit), no cancel involved. Before the cancels, each execution
// is paused the same way (request -> PAUSED at each subscriber) and resumed, so the pause figure is
// printed next to the cancel figure.
import { loadavg } from 'node:os';
import { monitorEventLoopDelay, performance } from 'node:perf_hooks';
import { startSite, type Site } from '../test/fixtures/site.ts';
import { CANCEL, START_CRAWL, startTestApp, type TestApp } from '../test/helpers/app.ts';
import { closeHttp, formatSummary, intOption, machine, ms, postGraphql, shuffled, summarize } from './lib.ts';
import { watch, type Watcher } from './watch.ts';
import type { Change } from '../server/executions/types.ts';

const crawls = intOption('crawls', 100);
const subscribers = intOption('subscribers', 200);
const connections = intOption('connections', 20);
const concurrency = intOption('concurrency', 1);
const settleMs = intOption('settle-ms', 1500);
const targetP99 = 25;

interface Timings {
  rtt: number[];
  first: number[];
  final: number[];
}

async function main(): Promise<void> {
  console.log(`bench:cancel  ${crawls} crawls, ${subscribers} subscribers on ${connections} graphql-ws connections, ${concurrency} cancel(s) at a time`);
  console.log(`machine: ${machine()}; load average ${loadavg().map((l) => l.toFixed(1)).join(" ")}`);
  const slow = { headers: { 'content-type': 'text/html' }, body: '<title>slow</title><p>slow</p>', delayMs: 600_000 };
  const site = await startSite({ routes: Object.fromEntries(Array.from({ length: crawls }, (_, i) => [`/?n=${i}`, slow])) });
  // The per-caller start limit (30 a minute by default) is off: this measures cancels, not admission.
  const app = await startTestApp({ maxConcurrent: Math.max(128, crawls), startRateLimitPerMinute: 0 });
  try {
    const ids = await startCrawls(app, site);
    const watchers = await subscribe(app, ids);
    const baseline = await run(shuffled(ids, 1), watchers, (id) => doorbell(app, id), (e) => e.type === 'LOG' && e.message === 'bench doorbell');
    const pause = await run(shuffled(ids, 3), watchers, (id) => pauseOne(app, id), (e) => e.status === 'PAUSED');
    const endedByPause = watchers.filter((w) => w.completed).length;
    await resumeAll(app, ids, watchers);
    const loop = monitorEventLoopDelay({ resolution: 1 });
    loop.enable();
    const cancel = await run(shuffled(ids, 2), watchers, (id) => cancelOne(app, id), (e) => e.status === 'CANCELLED');
    loop.disable();
    console.log(`event-loop delay during the cancels: p50 ${ms(loop.percentile(50) / 1e6)}  p99 ${ms(loop.percentile(99) / 1e6)}  max ${ms(loop.max / 1e6)}; load average ${loadavg().map((l) => l.toFixed(1)).join(' ')}`);
    const lastCancelled = Math.max(...watchers.flatMap((w) => w.arrivals.filter((a) => a.event.status === 'CANCELLED').map((a) => a.at)));
    const requestsAtLast = site.requestCount();
    await new Promise((resolve) => setTimeout(resolve, settleMs));
    report({ app, site, watchers, baseline, pause, endedByPause, cancel, lateRequests: site.requestCount() - requestsAtLast, lastCancelled });
    await checkFinalStatuses(app, ids);
  } finally {
    closeHttp();
    await app.stop();
    await site.close();
  }
}

/** Starts the crawls and waits until each one is RUNNING with its start page in flight at the site. */
async function startCrawls(app: TestApp, site: Site): Promise<string[]> {
  const started = performance.now();
  const ids = await Promise.all(
    Array.from({ length: crawls }, async (_, i) => {
      const res = await app.gql(START_CRAWL, { input: { url: `${site.url}/?n=${i}`, maxPages: 5, respectRobotsTxt: false } });
      if (res.errors) throw new Error(`startCrawl: ${res.errors[0]!.message}`);
      return res.data!.startCrawl.id as string;
    }),
  );
  await site.waitFor(() => site.requests.filter((p) => p.startsWith('/?n=')).length >= crawls);
  const active = await app.gql<{ activeExecutions: { status: string }[] }>(`{ activeExecutions { status } }`);
  const running = active.data!.activeExecutions.filter((e) => e.status === 'RUNNING').length;
  if (running !== crawls) throw new Error(`expected ${crawls} RUNNING executions, found ${running}`);
  console.log(`${crawls} crawls RUNNING with their start page in flight after ${ms(performance.now() - started)}`);
  return ids;
}

/** Subscriber s watches execution s % crawls on connection s / (subscribers / connections): the two watchers of one execution use different connections. */
async function subscribe(app: TestApp, ids: string[]): Promise<Watcher[]> {
  const clients = Array.from({ length: connections }, () => app.ws());
  const perConnection = Math.ceil(subscribers / connections);
  const watchers = Array.from({ length: subscribers }, (_, s) => watch(clients[Math.floor(s / perConnection)]!, ids[s % ids.length]!));
  // The replayed RUNNING event proves the live subscription is in place (it is registered before the replay).
  await Promise.all(watchers.map((w) => w.until((e) => e.status === 'RUNNING')));
  return watchers;
}

/** A LOG event written and published exactly as a job's commit does it (fenced write, publish after commit). */
async function doorbell(app: TestApp, id: string): Promise<void> {
  const { change } = await app.app.store.write({ executionId: id, attempt: 1 }, { event: { type: 'LOG', message: 'bench doorbell' } });
  (app.app.engine as unknown as { publish(change: Change): void }).publish(change!);
}

const PAUSE = `mutation ($id: ID!) { pauseExecution(id: $id, reason: "bench") { status } }`;

async function pauseOne(app: TestApp, id: string): Promise<number> {
  const started = performance.now();
  const res = await postGraphql<{ pauseExecution: { status: string } }>(app.url, PAUSE, { id });
  const rtt = performance.now() - started;
  if (res.data?.pauseExecution.status !== 'PAUSED') throw new Error(`pause of ${id} did not answer PAUSED: ${JSON.stringify(res)}`);
  return rtt;
}

/** Resumes every paused crawl and waits until each subscriber has seen it RUNNING again (a new attempt). */
async function resumeAll(app: TestApp, ids: string[], watchers: Watcher[]): Promise<void> {
  const started = performance.now();
  const res = await postGraphql<{ resumeExecutions: { affected: number } }>(app.url, `mutation { resumeExecutions(kind: CRAWL) { affected } }`, {});
  if (res.data?.resumeExecutions.affected !== ids.length) throw new Error(`resumeExecutions: ${JSON.stringify(res)}`);
  await Promise.all(
    watchers.map(async (w) => {
      const paused = await w.until((e) => e.status === 'PAUSED');
      await w.until((e) => e.status === 'RUNNING' && e.seq > paused.event.seq);
    }),
  );
  console.log(`${ids.length} crawls resumed and RUNNING again at every subscriber after ${ms(performance.now() - started)}`);
}

async function cancelOne(app: TestApp, id: string): Promise<number> {
  const started = performance.now();
  const res = await postGraphql<{ cancelExecution: { accepted: boolean } }>(app.url, CANCEL, { id, reason: 'bench' });
  const rtt = performance.now() - started;
  const outcome = res.data?.cancelExecution;
  if (!outcome?.accepted) throw new Error(`cancel of ${id} was not accepted: ${JSON.stringify(res)}`);
  return rtt;
}

/** Fires `act` for each execution in the given order, `concurrency` at a time; times the arrival of the matching event at each watcher. */
async function run(
  order: string[],
  watchers: Watcher[],
  act: (id: string) => Promise<number | void>,
  match: (e: Watcher['arrivals'][number]['event']) => boolean,
): Promise<Timings> {
  const timings: Timings = { rtt: [], first: [], final: [] };
  const queue = [...order];
  const worker = async () => {
    for (let id = queue.shift(); id !== undefined; id = queue.shift()) {
      const mine = watchers.filter((w) => w.executionId === id);
      const started = performance.now();
      const arrivals = Promise.all(mine.map((w) => w.until(match)));
      const rtt = await act(id);
      if (typeof rtt === 'number') timings.rtt.push(rtt);
      for (const arrival of await arrivals) timings.final.push(arrival.at - started);
      const cancelling = mine.flatMap((w) => w.arrivals.filter((a) => a.event.status === 'CANCELLING' && a.at >= started));
      timings.first.push(...cancelling.map((a) => a.at - started));
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  return timings;
}

function report(r: {
  app: TestApp;
  site: Site;
  watchers: Watcher[];
  baseline: Timings;
  pause: Timings;
  endedByPause: number;
  cancel: Timings;
  lateRequests: number;
  lastCancelled: number;
}): void {
  const cancelled = summarize(r.cancel.final);
  const afterTerminal = r.watchers.reduce((n, w) => n + w.afterTerminal(), 0);
  const incomplete = r.watchers.filter((w) => !w.completed).length;
  console.log('');
  console.log(`baseline  LOG event, write+publish -> each subscriber   ${formatSummary(summarize(r.baseline.final))}`);
  console.log(`cancel    request -> CANCELLING at each subscriber       ${formatSummary(summarize(r.cancel.first))}`);
  console.log(`cancel    request -> CANCELLED at each subscriber        ${formatSummary(cancelled)}`);
  console.log(`cancel    cancelExecution HTTP round trip                ${formatSummary(summarize(r.cancel.rtt))}`);
  console.log(`pause     request -> PAUSED at each subscriber           ${formatSummary(summarize(r.pause.final))}`);
  console.log(`pause     pauseExecution HTTP round trip                 ${formatSummary(summarize(r.pause.rtt))}`);
  console.log(`subscriptions completed by the server on PAUSED: ${r.endedByPause} (must be 0)`);
  console.log(`events received after a terminal event: ${afterTerminal} (must be 0)`);
  console.log(`subscriptions not completed by the server after CANCELLED: ${incomplete} (must be 0)`);
  console.log(`site requests started in the ${settleMs} ms after the last CANCELLED: ${r.lateRequests} (must be 0); still in flight: ${r.site.inFlight()}`);
  const ok = cancelled.p99 <= targetP99 && r.endedByPause === 0 && afterTerminal === 0 && r.lateRequests === 0 && incomplete === 0;
  console.log(`target p99 <= ${targetP99} ms: ${cancelled.p99 <= targetP99 ? 'met' : `MISSED by ${ms(cancelled.p99 - targetP99)}`}`);
  if (!ok) process.exitCode = 1;
}

async function checkFinalStatuses(app: TestApp, ids: string[]): Promise<void> {
  const res = await app.gql<{ executions: { id: string; status: string }[] }>(`{ executions(limit: ${ids.length + 10}) { id status } }`);
  const notCancelled = res.data!.executions.filter((e) => ids.includes(e.id) && e.status !== 'CANCELLED');
  console.log(`executions not CANCELLED in the database: ${notCancelled.length} (must be 0)`);
  if (notCancelled.length > 0) process.exitCode = 1;
}

await main();
