// bench:recovery — kill -9 in the middle of 20 crawls, restart, and time the resume. server/main.ts
// runs as a child process (the same entry point as `npm start`) on a temporary data folder; each crawl
// has its own slow local site (its own port), so every request at a site belongs to one crawl. Once
// every crawl is RUNNING and has fetched some pages, the child gets SIGKILL; a new child starts on
// the same data folder and we time, from the moment it is spawned, until every crawl is RUNNING again
// (attempt 2, from its checkpoint) and until every crawl SUCCEEDED, from the `at` of the STATUS events
// in each execution's log (same host clock). Pages fetched twice: per site, requests beyond the first
// for the same path; the requests in flight at the kill are the ones a resume cannot avoid.
import { spawn, type ChildProcess } from 'node:child_process';
import { loadavg } from 'node:os';
import { createClient } from 'graphql-ws';
import WebSocket from 'ws';
import { startSite, type Site } from '../test/fixtures/site.ts';
import { START_CRAWL } from '../test/helpers/app.ts';
import { tempDir } from '../test/helpers/stores.ts';
import { closeHttp, intOption, machine, ms, percentile, postGraphql } from './lib.ts';

const crawls = intOption('crawls', 20);
const pages = intOption('pages', 300);
const delayMs = intOption('delay-ms', 50);
const killAfter = intOption('kill-after-pages', 20);
const timeoutMs = intOption('timeout-ms', 300_000);

interface Server {
  child: ChildProcess;
  url: string;
  exited: Promise<void>;
}

/** `npm start`'s server as a real child process; resolves once it listens. */
function startServer(dataDir: string): Promise<Server> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'server/main.ts'], {
    env: {
      ...process.env,
      PORT: '0',
      SLUICE_DATA_DIR: dataDir,
      SLUICE_ALLOW_PRIVATE_NETWORKS: 'true',
      SLUICE_MAX_CONCURRENT: String(Math.max(20, crawls)),
      SLUICE_RATE_LIMIT_PER_MINUTE: '0',
      LOG_LEVEL: 'warn',
    },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  return new Promise((resolve, reject) => {
    let text = '';
    let listening = false;
    // stdout is read to the end: a full pipe would block the server's (synchronous) logging.
    child.stdout!.on('data', (chunk: Buffer) => {
      if (listening) return;
      text += chunk.toString('utf8');
      const match = /listening on (http:\/\/[\d.:]+)/.exec(text);
      if (match) {
        listening = true;
        resolve({ child, url: match[1]!, exited });
      }
    });
    void exited.then(() => reject(new Error('the server exited before it was listening')));
  });
}

const ACTIVE = '{ activeExecutions { id status attempt progress { pagesFetched } } }';
const EXECUTION = 'query ($id: ID!) { execution(id: $id) { status attempt progress { pagesFetched pagesFailed } } }';

interface Event {
  seq: number;
  at: string;
  type: string;
  status: string;
  message: string | null;
}

/** The whole event log of each execution, read with jobProgress (replay, then live until the end). */
function follow(url: string, ids: string[]): { logs: Map<string, Event[]>; done: Promise<void>; dispose(): Promise<void> } {
  const client = createClient({ url: `${url.replace('http', 'ws')}/graphql`, webSocketImpl: WebSocket, retryAttempts: 0 });
  const logs = new Map(ids.map((id) => [id, [] as Event[]]));
  const done = Promise.all(
    ids.map(
      (id) =>
        new Promise<void>((resolve, reject) => {
          client.subscribe<{ jobProgress: Event }>(
            { query: 'subscription ($id: ID!) { jobProgress(executionId: $id) { seq at type status message } }', variables: { id } },
            { next: (r) => r.data && logs.get(id)!.push(r.data.jobProgress), error: reject, complete: resolve },
          );
        }),
    ),
  ).then(() => undefined);
  return { logs, done, dispose: () => client.dispose() as Promise<void> };
}

/** Requests beyond the first for the same path (with query) at one site. */
function repeats(site: Site): number {
  const seen = new Map<string, number>();
  for (const path of site.requests) seen.set(path, (seen.get(path) ?? 0) + 1);
  let extra = 0;
  for (const n of seen.values()) extra += n - 1;
  return extra;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** The promise, or a rejection after `ms`; the timer is cleared either way, so it cannot hold the process open. */
async function within<T>(promise: Promise<T>, ms: number, message: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(message)), ms)));
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

async function main(): Promise<void> {
  console.log(`bench:recovery  ${crawls} crawls of ${pages}-page sites (${delayMs} ms a page, one site per crawl); kill -9 once each has fetched >= ${killAfter} pages`);
  console.log(`machine: ${machine()}; load average ${loadavg().map((l) => l.toFixed(1)).join(' ')}`);
  const dir = tempDir('sluice-bench-recovery-');
  const sites = await Promise.all(Array.from({ length: crawls }, () => startSite({ pages, delayMs })));
  let first: Server | null = null;
  let second: Server | null = null;
  try {
    first = await startServer(dir.path);
    const ids: string[] = [];
    for (const site of sites) {
      const res = await postGraphql<{ startCrawl: { id: string } }>(first.url, START_CRAWL, {
        input: { url: `${site.url}/`, maxPages: pages, maxDepth: 20, respectRobotsTxt: false },
      });
      if (!res.data) throw new Error(`startCrawl: ${JSON.stringify(res.errors)}`);
      ids.push(res.data.startCrawl.id);
    }

    // Every crawl RUNNING with some pages fetched (and so checkpointed) before the kill.
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const active = (await postGraphql<{ activeExecutions: { id: string; status: string; progress: { pagesFetched: number } }[] }>(first!.url, ACTIVE, {})).data!.activeExecutions;
      const ready = active.filter((e) => ids.includes(e.id) && e.status === 'RUNNING' && e.progress.pagesFetched >= killAfter);
      if (ready.length === crawls) break;
      const ended = ids.filter((id) => !active.some((e) => e.id === id));
      if (ended.length > 0) throw new Error(`${ended.length} crawl(s) ended before the kill: give them more --pages or --delay-ms`);
      if (Date.now() > deadline) throw new Error(`only ${ready.length} of ${crawls} crawls RUNNING with ${killAfter} pages`);
      await sleep(20);
    }
    const before = (await postGraphql<{ activeExecutions: { id: string; progress: { pagesFetched: number } }[] }>(first.url, ACTIVE, {})).data!.activeExecutions;
    const inFlight = sites.map((s) => s.inFlight());
    const requestsAtKill = sites.map((s) => s.requestCount());
    const repeatsAtKill = sites.map(repeats);
    first.child.kill('SIGKILL');
    await first.exited;
    closeHttp();
    const fetchedAtKill = before.filter((e) => ids.includes(e.id)).map((e) => e.progress.pagesFetched);

    const restartedAt = Date.now();
    second = await startServer(dir.path);
    const listeningMs = Date.now() - restartedAt;
    const logs = follow(second.url, ids);
    await within(logs.done, timeoutMs, `the crawls did not end within ${timeoutMs} ms`);
    await logs.dispose();

    const runningAgain: number[] = [];
    const succeeded: number[] = [];
    const problems: string[] = [];
    for (const id of ids) {
      const log = logs.logs.get(id)!;
      const after = log.filter((e) => e.type === 'STATUS' && Date.parse(e.at) >= restartedAt);
      const running = after.find((e) => e.status === 'RUNNING');
      const end = log.at(-1)!;
      if (running) runningAgain.push(Date.parse(running.at) - restartedAt);
      else problems.push(`${id}: no RUNNING event after the restart`);
      if (end.status === 'SUCCEEDED') succeeded.push(Date.parse(end.at) - restartedAt);
      else problems.push(`${id}: ended ${end.status} (${end.message})`);
      const row = (await postGraphql<{ execution: { status: string; attempt: number; progress: { pagesFetched: number; pagesFailed: number } } }>(second.url, EXECUTION, { id })).data!.execution;
      if (row.attempt !== 2 || row.progress.pagesFetched !== pages)
        problems.push(`${id}: attempt ${row.attempt}, ${row.progress.pagesFetched} pages fetched, ${row.progress.pagesFailed} failed (expected attempt 2, ${pages})`);
    }
    const extra = sites.map((s, i) => repeats(s) - repeatsAtKill[i]!);
    const sum = (values: number[]) => values.reduce((a, b) => a + b, 0);
    const distribution = (values: number[]) => `p50 ${percentile(values, 50)}, max ${percentile(values, 100)}`;

    console.log('');
    console.log(`at the kill: pages fetched per crawl ${distribution(fetchedAtKill)}; requests ${sum(requestsAtKill)} in all, ${sum(inFlight)} in flight (per crawl ${distribution(inFlight)})`);
    console.log(`restart -> listening (process start, recovery sweep)        ${ms(listeningMs)}`);
    console.log(`restart -> all ${crawls} RUNNING again (attempt 2)               ${ms(Math.max(...runningAgain))}  (per crawl p50 ${ms(percentile(runningAgain, 50))})`);
    console.log(`restart -> all ${crawls} SUCCEEDED                               ${ms(Math.max(...succeeded))}  (per crawl p50 ${ms(percentile(succeeded, 50))})`);
    console.log(`pages fetched twice after the restart: ${sum(extra)} in all (per crawl ${distribution(extra)}); in flight at the kill: ${sum(inFlight)}; repeats before the kill: ${sum(repeatsAtKill)}`);
    console.log(`every crawl SUCCEEDED on attempt 2 with all ${pages} pages: ${problems.length === 0 ? 'yes' : 'NO'}`);
    for (const p of problems.slice(0, 10)) console.log(`  ${p}`);
    console.log(`load average at the end ${loadavg().map((l) => l.toFixed(1)).join(' ')}`);
    if (problems.length > 0) process.exitCode = 1;
  } finally {
    closeHttp();
    if (first && first.child.exitCode === null) first.child.kill('SIGKILL');
    if (second && second.child.exitCode === null) {
      second.child.kill('SIGTERM');
      await second.exited;
    }
    await Promise.all(sites.map((s) => s.close()));
    dir.remove();
  }
}

await main();
