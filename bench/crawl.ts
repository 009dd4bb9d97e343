// bench:crawl — Sluice against Crawlee's CheerioCrawler on a 2,000-page site on 127.0.0.1. The site
// runs in its own child process; each crawl runs in a fresh child (so peak RSS is per crawler), the
// two alternating, best of N runs each. Sluice goes through the real app (GraphQL, engine, SQLite)
// and also turns each page into Markdown, chunks it and stores it with its checkpoint; Crawlee only
// parses, extracts title and main text and queues links, in memory.
import { loadavg } from 'node:os';
import { fileURLToPath } from 'node:url';
import type { CrawlerResult } from './crawl-result.ts';
import { ensureServerBuilt, intOption, machine, serverFrom, mib, ms, percentile, runChild, startBenchSite, type SiteStats } from './lib.ts';

const pages = intOption('pages', 2000);
const runs = intOption('runs', 3);
const targetRatio = 1.5;
const from = serverFrom();
const here = (file: string) => fileURLToPath(new URL(file, import.meta.url));


const startSiteProcess = () => startBenchSite(here('crawl-site.ts'), [String(pages)]);

const pagesPerSecond = (r: CrawlerResult) => (1000 * r.pages) / r.wallMs;

function line(r: CrawlerResult, site: SiteStats): string {
  return (
    `${r.crawler.padEnd(8)} ${r.status.padEnd(9)} ${String(r.pages).padStart(5)} pages  ${pagesPerSecond(r).toFixed(0).padStart(5)} pages/s  ` +
    `wall ${ms(r.wallMs).padStart(10)}  peak RSS ${mib(r.peakRss).padStart(8)} (before the crawl ${mib(r.rssBefore)})  ` +
    `CPU ${(r.cpuMs / r.pages).toFixed(2)} ms/page  site: ${site.requests} requests, ${site.distinctPages} distinct pages, CPU ${ms(site.cpuMs)}; ${r.note}`
  );
}

async function main(): Promise<void> {
  if (from === 'build') ensureServerBuilt();
  console.log(`bench:crawl  ${pages}-page site on 127.0.0.1, best of ${runs} runs each; Sluice ${from === 'build' ? 'built (node dist/server/main.js)' : 'from the sources (tsx, in process)'}`);
  console.log(`machine: ${machine()}; load average ${loadavg().map((l) => l.toFixed(1)).join(' ')}`);
  const site = await startSiteProcess();
  const best: Partial<Record<CrawlerResult['crawler'], CrawlerResult>> = {};
  const pairRatios: number[] = [];
  const cpuRatios: number[] = [];
  let complete = true;
  try {
    for (let run = 1; run <= runs; run++) {
      const pair: Partial<Record<CrawlerResult['crawler'], CrawlerResult>> = {};
      for (const crawler of ['sluice', 'crawlee'] as const) {
        const result = await runChild<CrawlerResult>(here(`crawl-${crawler}.ts`), [site.url, String(pages), JSON.stringify(crawler === 'sluice' ? { from } : {})]);
        const stats = await site.stats();
        console.log(`run ${run}  ${line(result, stats)}`);
        const all = result.pages === pages && stats.distinctPages === pages && result.status === 'SUCCEEDED';
        if (!all) {
          complete = false;
          console.log(`  ${crawler} did not crawl all ${pages} pages`);
        }
        pair[crawler] = result;
        const prev = best[crawler];
        if (!prev || pagesPerSecond(result) > pagesPerSecond(prev)) best[crawler] = result;
      }
      pairRatios.push(pagesPerSecond(pair.sluice!) / pagesPerSecond(pair.crawlee!));
      cpuRatios.push(pair.crawlee!.cpuMs / pair.crawlee!.pages / (pair.sluice!.cpuMs / pair.sluice!.pages));
    }
  } finally {
    site.close();
  }
  const sluice = best.sluice!;
  const crawlee = best.crawlee!;
  const ratio = pagesPerSecond(sluice) / pagesPerSecond(crawlee);
  console.log('');
  console.log(`best     sluice ${pagesPerSecond(sluice).toFixed(0)} pages/s (${ms(sluice.wallMs)}, CPU ${(sluice.cpuMs / sluice.pages).toFixed(2)} ms/page, peak RSS ${mib(sluice.peakRss)})`);
  console.log(`         crawlee ${pagesPerSecond(crawlee).toFixed(0)} pages/s (${ms(crawlee.wallMs)}, CPU ${(crawlee.cpuMs / crawlee.pages).toFixed(2)} ms/page, peak RSS ${mib(crawlee.peakRss)})`);
  console.log(`ratio    Sluice/Crawlee pages/s ${ratio.toFixed(2)}x, peak RSS ${(sluice.peakRss / crawlee.peakRss).toFixed(2)}x`);
  console.log(`per run  Sluice/Crawlee pages/s ${pairRatios.map((r) => r.toFixed(2)).join(', ')} (median ${percentile(pairRatios, 50).toFixed(2)}x); Crawlee/Sluice CPU per page ${cpuRatios.map((r) => r.toFixed(2)).join(', ')}`);
  console.log(`target   >= ${targetRatio}x: ${ratio >= targetRatio ? 'met' : `MISSED (${((100 * ratio) / targetRatio).toFixed(0)}% of the target)`}`);
  console.log(`all ${pages} pages crawled by both in every run: ${complete ? 'yes' : 'NO'}; load average ${loadavg().map((l) => l.toFixed(1)).join(' ')}`);
  if (!complete || ratio < targetRatio) process.exitCode = 1;
}

await main();
