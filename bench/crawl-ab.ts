// bench:crawl-ab — A/B of Sluice builds on the real manual (see bench:crawl-real): the built servers of
// two or more checkouts crawl the PostgreSQL manual in turn, run after run, against one site process,
// so that both see the same machine and load. Prints each run (pages/s, CPU a page by thread) and
// the median and best of each. Arguments: checkout folders (each with its dist/ built, e.g. a git
// worktree after `npm run build`), each optionally followed by :flag,flag for node (e.g.
// /tmp/b:--max-semi-space-size=32). Options: --runs=N (default 5), --workers=N (default: the
// server's own default).
import { fileURLToPath } from 'node:url';
import { threadsNote, type CrawlerResult } from './crawl-result.ts';
import { intOption, machine, runChild, startBenchSite } from './lib.ts';

const MANUAL = '/usr/share/doc/postgresql-doc-15/html';
const here = (file: string) => fileURLToPath(new URL(file, import.meta.url));
const runs = intOption('runs', 5);
const workers = process.argv.some((a) => a.startsWith('--workers=')) ? intOption('workers', 1) : undefined;
const roots = process.argv.slice(2).filter((a) => !a.startsWith('--'));
if (roots.length < 1) throw new Error('usage: npm run bench:crawl-ab -- <checkout> [<checkout>...] [--runs=N] [--workers=N]');

console.log(`bench:crawl-ab  ${roots.length} builds, ${runs} runs each, alternating; ${machine()}`);
const site = await startBenchSite(here('crawl-real-site.ts'), [MANUAL]);
const seen = new Map<string, number[]>();
try {
  for (let run = 1; run <= runs; run++) {
    for (const spec of roots) {
      const [root, flags] = spec.split(':');
      const options = { start: '/index.html', workers, root, nodeArgs: flags ? flags.split(',') : [] };
      const r = await runChild<CrawlerResult>(here('crawl-sluice.ts'), [site.url, '2000', JSON.stringify(options)]);
      const pagesPerSecond = (1000 * r.pages) / r.wallMs;
      (seen.get(spec) ?? seen.set(spec, []).get(spec)!).push(pagesPerSecond);
      console.log(`run ${run}  ${spec.padEnd(24)} ${r.status.padEnd(9)} ${r.pages} pages  ${pagesPerSecond.toFixed(1).padStart(6)} pages/s  CPU ${(r.cpuMs / r.pages).toFixed(2)} ms/page${threadsNote(r)}`);
    }
  }
} finally {
  site.close();
}
for (const [spec, values] of seen) {
  const sorted = [...values].sort((a, b) => a - b);
  console.log(`${spec.padEnd(24)} median ${sorted[sorted.length >> 1]!.toFixed(1)}  best ${sorted.at(-1)!.toFixed(1)} pages/s`);
}
