// Where fetched pages are turned into stored pages. Parsing, Markdown, chunking and hashing are CPU
// work; in a pool of worker threads they use every core and leave the main thread free for the
// frontier, the sockets, the store and the heartbeat (a 5 MB page cannot delay a lease renewal).
import { EventEmitter } from 'node:events';
import { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';
import { Piscina } from 'piscina';
import { abortable, throwIfAborted } from '../../lib/abort.ts';
import { buildPage, type BuiltPage, type PageTask } from './page.ts';

/** Builds pages, on this thread or in a pool; one processor serves every crawl of a node. */
export interface PageProcessor {
  /**
   * The built page, or a rejection with the abort reason once `signal` fires: an aborted page's
   * result is dropped even if its worker is still busy with it (it finishes and is discarded, so
   * the worker is not torn down mid-task).
   */
  build(task: PageTask, signal: AbortSignal): Promise<BuiltPage>;
  /** Tasks accepted and not yet answered by a worker (dropped ones included, until their worker is done). */
  readonly pending: number;
  /** Resolves once no task is pending. */
  idle(): Promise<void>;
  /** Threads started and not stopped (0 for inline). */
  readonly threads: number;
  /**
   * Starts the pool's threads now and keeps them (a server calls it as a crawl starts): the crawl's
   * pages then do not wait for threads to start and load the page code. A one-worker pool, which
   * takes only the rare pages of 512 KiB or more, is left to start its thread on such a page.
   */
  warm(): void;
  close(): Promise<void>;
}

/** Builds pages on the calling thread (unit tests, and SLUICE_CRAWL_WORKERS=0). */
export function inlinePages(): PageProcessor {
  return {
    build: async (task, signal) => {
      throwIfAborted(signal);
      return buildPage(task);
    },
    pending: 0,
    threads: 0,
    idle: async () => {},
    warm: () => {},
    close: async () => {},
  };
}

// Beside this file when run from the sources; beside the bundle (dist/server/page-worker.js, an entry
// point of its own in scripts/build.js) when run from the build.
const WORKER_FILE = new URL(import.meta.url.endsWith('.ts') ? './page-worker.ts' : './page-worker.js', import.meta.url).href;

/**
 * Pages smaller than this are built on the calling thread, by pool size. Handing a page to a worker
 * costs about 0.4 ms of CPU in all (the copy, two wake-ups, a second heap to collect, and code that
 * V8 optimises once more in that thread: bench:pages builds the manual for 0.82 ms a page on one
 * thread, 1.22 through the pool), about what building a 10 KB page costs. That pays where a worker
 * runs on a core of its own. With one worker (a two-core node, where the main thread, the SQLite
 * writer and V8's collector and compiler keep both cores busy) it is throughput lost: there the
 * pool takes only pages of 512 KiB or more (none of the PostgreSQL manual's; its largest, 434 KiB,
 * builds in 40-60 ms once warm), so that a 5 MB page still cannot hold the main thread for half a second.
 * With two or more workers, every page of 8 KiB or more goes to the pool.
 */
export function inlineBelowBytes(workers: number): number {
  return workers >= 2 ? 8 * 1024 : 512 * 1024;
}

/**
 * A pool of `workers` threads (0: inline). Unless warmed, threads start on the first page and stop
 * when idle; warm() starts them all at once and keeps them.
 */
export function createPagePool(workers: number, options: { inlineBelowBytes?: number } = {}): PageProcessor {
  if (workers <= 0) return inlinePages();
  const inlineBelow = options.inlineBelowBytes ?? inlineBelowBytes(workers);
  const inline = inlinePages();
  let piscina: Piscina<PageTask, BuiltPage> | null = null;
  const start = (keep: boolean) =>
    (piscina ??= new Piscina<PageTask, BuiltPage>({
      filename: WORKER_FILE,
      // kept: started now, all of them, for as long as the pool lives
      minThreads: keep ? workers : 0,
      maxThreads: workers,
      idleTimeout: 30_000,
      // piscina's run and wait time histograms cost the main thread as much as the hand-off itself
      recordTiming: false,
      execArgv: workerExecArgv(),
    }));
  let pending = 0;
  const idle = new EventEmitter();
  return {
    build: (task, signal) => {
      if (task.body.byteLength < inlineBelow) return inline.build(task, signal);
      throwIfAborted(signal);
      pending++;
      // The body moves to the worker instead of being cloned (a structured clone cost as much main-thread
      // time as the page's store write); it is copied once first, as it may share its memory with others.
      const body = new Uint8Array(task.body);
      const run = start(false).run({ ...task, body }, { transferList: [body.buffer] }).finally(() => {
        if (--pending === 0) idle.emit('idle');
      });
      // not pool.run(task, { signal }): piscina would terminate a busy worker; this only drops the answer
      return abortable(run, signal);
    },
    get pending() {
      return pending;
    },
    get threads() {
      return piscina?.threads.length ?? 0;
    },
    idle: () => (pending === 0 ? Promise.resolve() : new Promise((resolve) => idle.once('idle', resolve))),
    // a one-worker pool takes only the rare pages of 512 KiB or more: its thread starts for them alone
    warm: () => void (inlineBelow < inlineBelowBytes(1) && start(true)),
    close: async () => piscina?.destroy(),
  };
}

/**
 * Worker threads load TypeScript the way this process does: under `tsx` (and from the build) they
 * inherit this process's options — left unset, since a worker given `process.execArgv` explicitly
 * refuses the process-wide ones such as --max-old-space-size or --expose-gc
 * (ERR_WORKER_INVALID_EXEC_ARGV) — elsewhere (vitest, which transforms in-process) they are given
 * tsx's loader explicitly.
 */
function workerExecArgv(): string[] | undefined {
  const inherited = process.execArgv;
  if (!import.meta.url.endsWith('.ts') || inherited.some((arg) => arg.includes('tsx'))) return undefined;
  const loader = pathToFileURL(createRequire(import.meta.url).resolve('tsx')).href;
  return [...inherited, '--import', loader];
}
