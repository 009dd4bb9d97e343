// Child process of bench:crawl and bench:crawl-real: crawls the site through the real Sluice app
// (GraphQL startCrawl, executionChanged for the end) and reports pages, wall time, CPU (by thread)
// and peak RSS to the parent. By default the server is the build (`node dist/server/main.js`, what
// `npm start` runs), in a process of its own measured from /proc; `from: 'sources'` runs the app
// from the TypeScript sources in this process instead (through tsx, whose loader then also runs in
// every page worker: about 0.4 s of CPU for two workers' start).
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { performance } from 'node:perf_hooks';
import { createClient } from 'graphql-ws';
import WebSocket from 'ws';
import { createApp } from '../server/app.ts';
import { tempDir } from '../test/helpers/stores.ts';
import { START_CRAWL } from '../test/helpers/app.ts';
import { closeHttp, postGraphql, processCpuMs, rssSampler, threadSplit, vmHwm, vmRss, type ThreadSplit } from './lib.ts';
import type { CrawlerResult } from './crawl-result.ts';

const [siteUrl, maxPagesArg, optionsArg] = process.argv.slice(2);
const maxPages = Number(maxPagesArg ?? 2000);
/** The start path, the size of the page-processing pool, and where the server comes from (default: the build). */
const options = JSON.parse(optionsArg ?? '{}') as { start?: string; workers?: number; from?: 'build' | 'sources'; root?: string; nodeArgs?: string[] };

/** The server under test and how its CPU and memory are read. */
interface Server {
  url: string;
  rssBefore: number;
  /** Starts measuring; the returned function gives the CPU and peak RSS since. */
  measure(): () => { cpuMs: number; split: ThreadSplit; peakRss: number };
  stop(): Promise<void>;
}

/** The app in this process, from the sources. */
async function inProcess(dataDir: string): Promise<Server> {
  const rss = rssSampler(50);
  const app = createApp({ port: 0, dataDir, allowPrivateNetworks: true, logLevel: 'silent', ...(options.workers !== undefined ? { crawlWorkers: options.workers } : {}) });
  const { url } = await app.start();
  return {
    url,
    rssBefore: process.memoryUsage().rss,
    measure() {
      const cpuBefore = process.cpuUsage();
      const threads = threadSplit();
      return () => {
        const cpu = process.cpuUsage(cpuBefore);
        return { cpuMs: (cpu.user + cpu.system) / 1000, split: threads.stop(), peakRss: rss.stop() };
      };
    },
    stop: () => app.stop(),
  };
}

/** The built server (`node dist/server/main.js`) in its own process. */
async function built(dataDir: string): Promise<Server> {
  const root = options.root ?? fileURLToPath(new URL('..', import.meta.url));
  const child = spawn(process.execPath, [...(options.nodeArgs ?? []), `${root}/dist/server/main.js`], {
    cwd: root,
    env: {
      ...process.env,
      PORT: '0',
      HOST: '127.0.0.1',
      SLUICE_DATA_DIR: dataDir,
      SLUICE_ALLOW_PRIVATE_NETWORKS: 'true',
      LOG_LEVEL: 'silent',
      ...(options.workers !== undefined ? { SLUICE_CRAWL_WORKERS: String(options.workers) } : {}),
    },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const url = await new Promise<string>((resolve, reject) => {
    let out = '';
    child.stdout.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      const match = /listening on (http:\/\/[^\s]+)/.exec(out);
      if (match) resolve(match[1]!);
    });
    child.once('exit', (code) => reject(new Error(`dist/server/main.js exited with code ${code} before listening:\n${out}`)));
  });
  const pid = child.pid!;
  return {
    url,
    rssBefore: vmRss(pid),
    measure() {
      const cpuBefore = processCpuMs(pid);
      const threads = threadSplit(pid);
      return () => ({ cpuMs: processCpuMs(pid) - cpuBefore, split: threads.stop(), peakRss: vmHwm(pid) });
    },
    stop: () =>
      new Promise<void>((resolve) => {
        child.once('exit', () => resolve());
        child.kill('SIGTERM');
      }),
  };
}

const dir = tempDir('sluice-bench-');
const server = options.from === 'sources' ? await inProcess(dir.path) : await built(dir.path);
const { url, rssBefore } = server;
const ws = createClient({ url: `${url.replace('http', 'ws')}/graphql`, webSocketImpl: WebSocket, retryAttempts: 0 });

// Only status changes travel to the client (not the 2,000 PAGE events), so the watcher costs little.
let executionId: string | null = null;
const seen = new Map<string, string>();
let onEnd: ((status: string) => void) | null = null;
const ended = new Promise<string>((resolve) => (onEnd = resolve));
const changed = (id: string, status: string) => {
  seen.set(id, status);
  if (id === executionId && ['SUCCEEDED', 'FAILED', 'CANCELLED', 'INTERRUPTED'].includes(status)) onEnd?.(status);
};
await new Promise<void>((subscribed) => {
  ws.on('connected', () => setTimeout(subscribed, 50));
  ws.subscribe<{ executionChanged: { id: string; status: string } }>(
    { query: 'subscription { executionChanged { id status } }' },
    { next: (r) => changed(r.data!.executionChanged.id, r.data!.executionChanged.status), error: console.error, complete: () => {} },
  );
});

const started = performance.now();
const measured = server.measure();
const res = await postGraphql<{ startCrawl: { id: string } }>(url, START_CRAWL, {
  input: { url: `${siteUrl}${options.start ?? '/'}`, maxPages, maxDepth: 20, respectRobotsTxt: false },
});
if (!res.data) throw new Error(`startCrawl: ${JSON.stringify(res.errors)}`);
executionId = res.data.startCrawl.id;
const already = seen.get(executionId);
if (already) changed(executionId, already);
// A safety net should the subscription miss the end (it is registered before the start; this only guards against a hang).
const poll = setInterval(() => {
  void postGraphql<{ execution: { status: string } }>(url, 'query($id: ID!) { execution(id: $id) { status } }', { id: executionId }).then(
    (r) => r.data && changed(executionId!, r.data.execution.status),
  );
}, 2000);
const status = await ended;
clearInterval(poll);
const wallMs = performance.now() - started;
const { cpuMs, split, peakRss } = measured();

const info = await postGraphql<{
  execution: { progress: { pagesFetched: number; pagesFailed: number; chunksStored: number } };
  knowledgeSources: { pages: number }[];
}>(
  url,
  'query($id: ID!) { execution(id: $id) { progress { pagesFetched pagesFailed chunksStored } } knowledgeSources { pages } }',
  { id: executionId },
);
const progress = info.data!.execution.progress;
const stored = info.data!.knowledgeSources.reduce((sum, s) => sum + s.pages, 0);
const result: CrawlerResult = {
  crawler: 'sluice',
  status,
  pages: progress.pagesFetched,
  failed: progress.pagesFailed,
  wallMs,
  cpuMs,
  peakRss,
  rssBefore,
  stored,
  mainCpuMs: split.mainMs,
  threadsCpuMs: split,
  note: `${stored} pages, ${progress.chunksStored} chunks stored (${options.from === 'sources' ? 'from the sources, in process' : 'the built server'})`,
};
await ws.dispose();
closeHttp();
await server.stop();
dir.remove();
process.send!(result, () => process.exit(0));
