// Child process of bench:crawl: crawls the site through the real Sluice app (GraphQL startCrawl,
// executionChanged for the end) and reports pages, wall time and peak RSS to the parent.
import { performance } from 'node:perf_hooks';
import { createClient } from 'graphql-ws';
import WebSocket from 'ws';
import { createApp } from '../server/app.ts';
import { tempDir } from '../test/helpers/stores.ts';
import { START_CRAWL } from '../test/helpers/app.ts';
import { closeHttp, mainThreadCpuMs, postGraphql, rssSampler } from './lib.ts';
import type { CrawlerResult } from './crawl-result.ts';

const [siteUrl, maxPagesArg, optionsArg] = process.argv.slice(2);
const maxPages = Number(maxPagesArg ?? 2000);
/** bench:crawl-real passes the start path and the size of the page-processing pool. */
const options = JSON.parse(optionsArg ?? '{}') as { start?: string; workers?: number };
const rss = rssSampler(50);
const dir = tempDir('sluice-bench-');
const app = createApp({
  port: 0,
  dataDir: dir.path,
  allowPrivateNetworks: true,
  logLevel: 'silent',
  ...(options.workers ? { crawlWorkers: options.workers } : {}),
});
const { url } = await app.start();
const ws = createClient({ url: `${url.replace('http', 'ws')}/graphql`, webSocketImpl: WebSocket, retryAttempts: 0 });
const rssBefore = process.memoryUsage().rss;

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
const cpuBefore = process.cpuUsage();
const mainBefore = mainThreadCpuMs();
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
const cpu = process.cpuUsage(cpuBefore);
const mainCpuMs = mainThreadCpuMs() - mainBefore;
const peakRss = rss.stop();

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
  cpuMs: (cpu.user + cpu.system) / 1000,
  peakRss,
  rssBefore,
  stored,
  mainCpuMs,
  note: `${stored} pages, ${progress.chunksStored} chunks stored`,
};
await ws.dispose();
closeHttp();
await app.stop();
dir.remove();
process.send!(result, () => process.exit(0));
