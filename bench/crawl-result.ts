import type { ThreadSplit } from './lib.ts';

/** What each crawler child reports to bench:crawl. */
export interface CrawlerResult {
  crawler: 'sluice' | 'crawlee' | 'crawlee+turndown';
  status: string;
  /** Pages fetched and handled. */
  pages: number;
  failed: number;
  /** Pages kept: stored in the knowledge base (Sluice), or extracted in memory (Crawlee). */
  stored?: number;
  /** From the start request to the end of the crawl. */
  wallMs: number;
  /** CPU time (user + system) of the child during the crawl: less sensitive to other load than wall time. */
  cpuMs: number;
  /** Peak resident set size of the child (50 ms samples and VmHWM). */
  peakRss: number;
  /** RSS once everything is loaded, before the crawl starts. */
  rssBefore: number;
  /** Sluice: CPU time of its main thread alone during the crawl (the page workers' is not in it). */
  mainCpuMs?: number;
  /** Sluice: the CPU time by thread: main, the threads started during the crawl (page workers), V8's and libuv's. */
  threadsCpuMs?: ThreadSplit;
  note: string;
}

/** Sluice's CPU ms a page by thread: " (main …, page threads …, GC/JIT …)", or "" when not measured. */
export function threadsNote(r: CrawlerResult): string {
  const t = r.threadsCpuMs;
  if (!t) return r.mainCpuMs === undefined ? '' : ` (main thread ${(r.mainCpuMs / r.pages).toFixed(2)})`;
  const per = (ms: number) => (ms / r.pages).toFixed(2);
  return ` (main ${per(t.mainMs)}, page threads ${per(t.newMs)}, GC/JIT ${per(t.otherMs)})`;
}
