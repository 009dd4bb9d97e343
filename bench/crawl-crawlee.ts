// Child process of bench:crawl: crawls the site with Crawlee's CheerioCrawler, in memory only, doing
// comparable work per page (parse, title, main text, same-host links) and reports to the parent.
import { performance } from 'node:perf_hooks';
import { CheerioCrawler, Configuration, log, LogLevel } from '@crawlee/cheerio';
import { DEFAULT_CRAWL_LIMITS } from '../server/jobs/crawl/input.ts';
import TurndownService from 'turndown';
import { rssSampler } from './lib.ts';
import type { CrawlerResult } from './crawl-result.ts';

const [siteUrl, maxPagesArg, optionsArg] = process.argv.slice(2);
const maxPages = Number(maxPagesArg ?? 2000);
/** bench:crawl-real passes the start path, and whether to also turn the main content into Markdown. */
const options = JSON.parse(optionsArg ?? '{}') as { start?: string; turndown?: boolean };
const turndown = options.turndown ? new TurndownService({ headingStyle: 'atx', codeBlockStyle: 'fenced' }) : null;
log.setLevel(LogLevel.OFF);
const rss = rssSampler(50);
const concurrency = DEFAULT_CRAWL_LIMITS.concurrency;
const extracted: { url: string; title: string; text: string }[] = [];

/** Sluice drops utm_* parameters when it normalises URLs; without this Crawlee would fetch "/page/3?utm_source=nav" as another page. */
function withoutTracking(url: string): string {
  const u = new URL(url);
  for (const key of [...u.searchParams.keys()]) if (key.startsWith('utm_')) u.searchParams.delete(key);
  u.hash = '';
  return u.href;
}

const crawler = new CheerioCrawler(
  {
    // Fixed at Sluice's per-crawl concurrency: no ramp-up from 1, the best case for Crawlee.
    minConcurrency: concurrency,
    maxConcurrency: concurrency,
    maxRequestsPerCrawl: maxPages,
    maxRequestRetries: DEFAULT_CRAWL_LIMITS.maxRetries,
    requestHandlerTimeoutSecs: 15,
    async requestHandler({ $, request, enqueueLinks }) {
      const title = $('title').first().text().trim();
      const main = $('main').first();
      const content = main.length ? main : $('body');
      const text = turndown ? turndown.turndown(content.html() ?? '') : content.text().replace(/\s+/g, ' ').trim();
      extracted.push({ url: request.loadedUrl ?? request.url, title, text });
      await enqueueLinks({
        strategy: 'same-hostname',
        transformRequestFunction: (req) => ({ ...req, url: withoutTracking(req.url) }),
      });
    },
  },
  new Configuration({ persistStorage: false }),
);

const rssBefore = process.memoryUsage().rss;
const started = performance.now();
const cpuBefore = process.cpuUsage();
const stats = await crawler.run([`${siteUrl}${options.start ?? '/'}`]);
const wallMs = performance.now() - started;
const cpu = process.cpuUsage(cpuBefore);
const result: CrawlerResult = {
  crawler: turndown ? 'crawlee+turndown' : 'crawlee',
  status: stats.requestsFailed === 0 ? 'SUCCEEDED' : 'FAILED',
  pages: extracted.length,
  failed: stats.requestsFailed,
  stored: extracted.length,
  wallMs,
  cpuMs: (cpu.user + cpu.system) / 1000,
  peakRss: rss.stop(),
  rssBefore,
  note: `${new Set(extracted.map((e) => e.url)).size} distinct URLs handled`,
};
process.send!(result, () => process.exit(0));
