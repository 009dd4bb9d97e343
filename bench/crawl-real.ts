// bench:crawl-real — Sluice against Crawlee on a real documentation site nobody here wrote: the
// PostgreSQL manual (~1,100 HTML pages, Debian's postgresql-doc-15), served from disk by a plain
// static file server (sirv) in its own child process. Each crawl runs in a fresh child (peak RSS is
// per crawler): Sluice through the real app (GraphQL, engine, SQLite; parse, extract, Markdown,
// chunk, hash, store) with its page-processing pool at 1, 2 and <cores> workers; Crawlee's
// CheerioCrawler extracting text only; and Crawlee + turndown (Markdown, still in memory only).
// Options: --runs=N (best of N, default 1), --pages=N (maxPages, default 2000: the whole manual),
// --workers=N (only that pool size instead of 1, 2 and <cores>), --turndown=0 (leave out Crawlee + turndown),
// --from=sources (Sluice from the TypeScript sources through tsx instead of the build; see crawl-sluice.ts).
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { availableParallelism, loadavg } from 'node:os';
import { fileURLToPath } from 'node:url';
import { threadsNote, type CrawlerResult } from './crawl-result.ts';
import { ensureServerBuilt, intOption, machine, serverFrom, mib, ms, runChild, startBenchSite, type SiteStats } from './lib.ts';

const MANUAL = '/usr/share/doc/postgresql-doc-15/html';
const START = '/index.html';
const pages = intOption('pages', 2000);
const runs = intOption('runs', 1);
const onlyWorkers = intOption('workers', 0);
const withTurndown = intOption('turndown', 1) !== 0;
const from = serverFrom();
const targetRatio = 3;
const here = (file: string) => fileURLToPath(new URL(file, import.meta.url));


/** The manual, installed with apt-get when it is missing (never nodejs-doc: it removes Node.js here). */
function ensureManual(): void {
  if (existsSync(`${MANUAL}/index.html`)) return;
  console.log(`${MANUAL} is missing: installing postgresql-doc-15 with apt-get`);
  execFileSync('apt-get', ['install', '-y', '--no-install-recommends', 'postgresql-doc-15'], { stdio: 'inherit' });
  if (!existsSync(`${MANUAL}/index.html`)) throw new Error(`apt-get install postgresql-doc-15 did not create ${MANUAL}`);
}

const startSiteProcess = () => startBenchSite(here('crawl-real-site.ts'), [MANUAL]);

interface Contender {
  label: string;
  file: string;
  options: Record<string, unknown>;
}

const pagesPerSecond = (r: CrawlerResult) => (1000 * r.pages) / r.wallMs;


function line(label: string, r: CrawlerResult, site: SiteStats): string {
  return (
    `${label.padEnd(18)} ${r.status.padEnd(9)} ${String(r.pages).padStart(5)} pages  ${pagesPerSecond(r).toFixed(1).padStart(6)} pages/s  ` +
    `wall ${ms(r.wallMs).padStart(10)}  CPU ${(r.cpuMs / r.pages).toFixed(1).padStart(5)} ms/page${threadsNote(r)}  peak RSS ${mib(r.peakRss).padStart(8)}  ` +
    `stored ${String(r.stored ?? 0).padStart(5)}  site: ${site.requests} requests, CPU ${ms(site.cpuMs)}; ${r.note}`
  );
}

async function main(): Promise<void> {
  ensureManual();
  if (from === 'build') ensureServerBuilt();
  const cores = availableParallelism();
  const workerCounts = onlyWorkers ? [onlyWorkers] : [...new Set([1, 2, cores])];
  const contenders: Contender[] = [
    ...workerCounts.map((workers) => ({ label: `sluice workers=${workers}`, file: 'crawl-sluice.ts', options: { start: START, workers, from } })),
    { label: 'crawlee text', file: 'crawl-crawlee.ts', options: { start: START } },
    ...(withTurndown ? [{ label: 'crawlee+turndown', file: 'crawl-crawlee.ts', options: { start: START, turndown: true } }] : []),
  ];
  console.log(`bench:crawl-real  the PostgreSQL manual (${MANUAL}) on 127.0.0.1, maxPages ${pages}, best of ${runs} run(s) each; Sluice ${from === 'build' ? 'built (node dist/server/main.js)' : 'from the sources (tsx, in process)'}`);
  console.log(`machine: ${machine()}; load average ${loadavg().map((l) => l.toFixed(1)).join(' ')}`);
  const site = await startSiteProcess();
  const best = new Map<string, CrawlerResult>();
  try {
    for (let run = 1; run <= runs; run++) {
      for (const c of contenders) {
        const result = await runChild<CrawlerResult>(here(c.file), [site.url, String(pages), JSON.stringify(c.options)]);
        const stats = await site.stats();
        console.log(`run ${run}  ${line(c.label, result, stats)}`);
        const prev = best.get(c.label);
        if (!prev || pagesPerSecond(result) > pagesPerSecond(prev)) best.set(c.label, result);
      }
    }
  } finally {
    site.close();
  }
  const crawlee = best.get('crawlee text')!;
  // the target is judged on the pool size a server runs by default (SLUICE_CRAWL_WORKERS unset: cores - 1)
  const defaultWorkers = Math.max(1, cores - 1);
  const targetWorkers = workerCounts.includes(defaultWorkers) ? defaultWorkers : workerCounts.at(-1)!;
  const sluice = best.get(`sluice workers=${targetWorkers}`)!;
  const widest = best.get(`sluice workers=${workerCounts.at(-1)}`)!;
  const one = best.get(`sluice workers=${workerCounts[0]}`)!;
  console.log('');
  for (const [label, r] of best) {
    console.log(
      `best  ${label.padEnd(18)} ${pagesPerSecond(r).toFixed(1).padStart(6)} pages/s  CPU ${(r.cpuMs / r.pages).toFixed(1).padStart(5)} ms/page${threadsNote(r)}  ` +
        `peak RSS ${mib(r.peakRss).padStart(8)}  ${String(r.stored ?? 0).padStart(5)} stored  (${(pagesPerSecond(r) / pagesPerSecond(crawlee)).toFixed(2)}x crawlee text)`,
    );
  }
  console.log(`scaling  pages/s by workers: ${workerCounts.map((w) => `${w}: ${pagesPerSecond(best.get(`sluice workers=${w}`)!).toFixed(1)}`).join(', ')} (${(pagesPerSecond(widest) / pagesPerSecond(one)).toFixed(2)}x from ${workerCounts[0]} to ${workerCounts.at(-1)})`);
  const ratio = pagesPerSecond(sluice) / pagesPerSecond(crawlee);
  const rssOk = sluice.peakRss <= crawlee.peakRss;
  console.log(`target   (sluice workers=${targetWorkers}, the default) >= ${targetRatio}x Crawlee (text only) pages/s: ${ratio >= targetRatio ? 'met' : 'MISSED'} (${ratio.toFixed(2)}x); peak RSS <= Crawlee's: ${rssOk ? 'met' : 'MISSED'} (${mib(sluice.peakRss)} vs ${mib(crawlee.peakRss)})`);
  console.log(`load average ${loadavg().map((l) => l.toFixed(1)).join(' ')}`);
  if (ratio < targetRatio || !rssOk) process.exitCode = 1;
}

await main();
