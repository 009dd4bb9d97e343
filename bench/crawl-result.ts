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
