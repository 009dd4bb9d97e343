// bench:pages — the page pipeline alone on the PostgreSQL manual (Debian's postgresql-doc-15, ~1,170
// pages read from disk, no HTTP, no store): (1) buildPage (parse, extract, Markdown, chunk, hash,
// link keys) on this thread, CPU a page by page size; (2) the real page pool (createPagePool) at
// several inline thresholds, the pages arriving as a crawl hands them over (up to 8 in flight, one
// a turn): CPU a page of the main thread (the crawl's limit), of the pool's workers and of V8's own
// threads (GC, compiler). Alternates the thresholds, best of --runs=N (default 3) each.
// Options: --rounds=N (passes over the manual a measure, default 2), --workers=N (default 2),
// --thresholds=0,4096,8192 (inline below that many bytes).
import { readdirSync, readFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { buildPage, type PageTask } from '../server/jobs/crawl/page.ts';
import { createPagePool } from '../server/jobs/crawl/page-pool.ts';
import { intOption, machine, taskIds, threadSplit } from './lib.ts';

const MANUAL = '/usr/share/doc/postgresql-doc-15/html';
const runs = intOption('runs', 3);
const rounds = intOption('rounds', 2);
const workers = intOption('workers', 2);
const thresholds = (process.argv.find((a) => a.startsWith('--thresholds='))?.slice(13) ?? '0,4096,8192').split(',').map(Number);
const IN_FLIGHT = 8;

const files = readdirSync(MANUAL).filter((f) => f.endsWith('.html')).sort();
const bodies = files.map((f) => readFileSync(`${MANUAL}/${f}`));
/** A fresh task for page i (its body copied, as a fetch hands over its own buffer). */
const task = (i: number): PageTask => {
  const url = `http://127.0.0.1:8080/${files[i]}`;
  return { body: new Uint8Array(bodies[i]!), mimeType: 'text/html', charset: null, url, key: url, sourceUrl: 'http://127.0.0.1:8080' };
};
const load = () => loadavg().map((l) => l.toFixed(1)).join(' ');

/** buildPage's CPU a page on this thread, by size class (best of `runs` passes). */
function inlineCost(): string {
  const classes: [string, (n: number) => boolean][] = [['< 4 KiB', (n) => n < 4096], ['4-8 KiB', (n) => n >= 4096 && n < 8192], ['>= 8 KiB', (n) => n >= 8192], ['all', () => true]];
  const best = new Map<string, number>();
  for (let run = 0; run < runs + 1; run++) {
    for (const [label, inClass] of classes) {
      const pages = files.map((_, i) => i).filter((i) => inClass(bodies[i]!.byteLength));
      const before = process.cpuUsage();
      for (const i of pages) buildPage(task(i));
      const cpu = process.cpuUsage(before);
      // the first pass only warms the compiler up
      if (run > 0) best.set(label, Math.min(best.get(label) ?? Infinity, (cpu.user + cpu.system) / 1000 / pages.length));
    }
  }
  return [...best].map(([label, ms]) => `${label} ${ms.toFixed(3)}`).join(', ');
}

/** CPU a page by thread with the pool at one inline threshold. */
async function poolCost(inlineBelowBytes: number): Promise<{ main: number; workers: number; other: number }> {
  const existing = new Set(taskIds());
  const pool = createPagePool(workers, { inlineBelowBytes });
  const signal = new AbortController().signal;
  try {
    await Promise.all(Array.from({ length: workers * 4 }, (_, i) => pool.build(task(i), signal))); // threads started, code warm
    const split = threadSplit(process.pid, existing);
    let next = 0;
    const total = files.length * rounds;
    const lane = async () => {
      while (next < total) {
        await new Promise((resolve) => setImmediate(resolve));
        await pool.build(task(next++ % files.length), signal);
      }
    };
    await Promise.all(Array.from({ length: IN_FLIGHT }, lane));
    const s = split.stop();
    return { main: s.mainMs / total, workers: s.newMs / total, other: s.otherMs / total };
  } finally {
    await pool.close();
  }
}

console.log(`bench:pages  ${files.length} pages of ${MANUAL}, ${workers} page workers, best of ${runs}; ${machine()}; load average ${load()}`);
console.log(`buildPage on this thread, CPU ms a page: ${inlineCost()}`);
const best = new Map<number, { main: number; workers: number; other: number }>();
for (let run = 1; run <= runs; run++) {
  for (const threshold of thresholds) {
    const r = await poolCost(threshold);
    console.log(`run ${run}  inline below ${String(threshold).padStart(5)} B: main ${r.main.toFixed(3)}, workers ${r.workers.toFixed(3)}, V8/libuv ${r.other.toFixed(3)}, all ${(r.main + r.workers + r.other).toFixed(3)} ms a page`);
    const prev = best.get(threshold);
    if (!prev || r.main < prev.main) best.set(threshold, r);
  }
}
for (const [threshold, r] of best) console.log(`best  inline below ${String(threshold).padStart(5)} B: main thread ${r.main.toFixed(3)} ms a page (all threads ${(r.main + r.workers + r.other).toFixed(3)})`);
console.log(`load average ${load()}`);
