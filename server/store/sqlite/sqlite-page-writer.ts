// Page writes on their own thread. A stored page's rows and full-text index (FTS5, about two thirds
// of a page's write) cost the main thread as much as the rest of a crawled page's handling there;
// on a second connection in a worker thread they run beside it. SQLite takes one writer at a time,
// so the two connections take turns: the thread gets one request at a time, and every write of the
// main connection runs between two of them (exclusive), never while the thread holds its
// transaction. Neither waits on SQLite's lock (whose busy handler would sleep the main thread), and a
// fence is still decided in the transaction that writes the page (writeManySync).
import { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';
import { FencedError, type Fence } from '../../executions/types.ts';
import type { StoreWrite } from '../store.ts';
import type { WriteManyResult } from './sqlite-writes.ts';

export type WriterRequest = { kind: 'write'; id: number; fence: Fence; writes: readonly StoreWrite[] } | { kind: 'close' };
export type WriterReply = { ready: true } | { closed: true } | ({ id: number } & ({ result: WriteManyResult } | { fenced: string } | { error: string }));

// Beside this file when run from the sources; beside the bundle (dist/server/sqlite-writer-thread.js,
// an entry point of its own in scripts/build.js) when run from the build.
const THREAD_FILE = new URL(import.meta.url.endsWith('.ts') ? './sqlite-writer-thread.ts' : './sqlite-writer-thread.js', import.meta.url);

interface Pending {
  request: Extract<WriterRequest, { kind: 'write' }>;
  resolve(result: WriteManyResult): void;
  reject(error: unknown): void;
}

interface Turn {
  run(): void;
}

/** A worker thread with its own connection to `file` that applies job writes (writeManySync) in turn with the main connection. */
export class PageWriter {
  private worker: Worker | null = null;
  /** The thread has opened its connection: until then nothing is sent to it, and the main connection does not wait on it. */
  private ready = false;
  private readonly queue: Pending[] = [];
  private inFlight: Pending | null = null;
  /** Main-connection work waiting for the thread's current transaction to end. */
  private turns: Turn[] = [];
  private nextId = 1;
  private closed = false;

  /**
   * `hold` (tests only): a shared Int32Array's buffer; the thread sets its first element to 1 inside
   * each transaction, holding the write lock, and goes on once it is set back to 0 (and notified).
   */
  constructor(
    private readonly file: string,
    private readonly hold?: SharedArrayBuffer,
  ) {}

  /** Starts the thread now, ahead of the first write (it opens its connection meanwhile). */
  start(): void {
    if (!this.closed) this.thread();
  }

  /** Applies the writes on the thread, in one transaction, after the writes handed to it before. */
  write(fence: Fence, writes: readonly StoreWrite[]): Promise<WriteManyResult> {
    if (this.closed) return Promise.reject(new Error('the store is closed'));
    return new Promise((resolve, reject) => {
      this.queue.push({ request: { kind: 'write', id: this.nextId++, fence, writes }, resolve, reject });
      this.pump();
    });
  }

  /**
   * Runs `fn` (a transaction of the main connection) when the thread holds no transaction: now if it
   * is idle, otherwise as soon as its current write is answered, before the next one is sent.
   */
  exclusive<T>(fn: () => T): Promise<T> {
    if (!this.inFlight) {
      try {
        return Promise.resolve(fn());
      } catch (error) {
        return Promise.reject(error);
      }
    }
    return new Promise((resolve, reject) =>
      this.turns.push({
        run: () => {
          try {
            resolve(fn());
          } catch (error) {
            reject(error);
          }
        },
      }),
    );
  }

  /** Waits for the writes handed over so far, then stops the thread (it closes its connection). */
  async close(): Promise<void> {
    this.closed = true;
    while (this.inFlight || (this.queue.length > 0 && this.worker)) await new Promise<void>((resolve) => this.turns.push({ run: resolve }));
    const worker = this.worker;
    this.worker = null;
    if (!worker) return;
    // the thread closes its connection and says so; it is then stopped (under tsx its loader would keep it alive)
    worker.ref();
    const closed = new Promise<void>((resolve) => {
      worker.on('message', (reply: WriterReply) => 'closed' in reply && resolve());
      worker.once('exit', () => resolve());
    });
    worker.postMessage({ kind: 'close' } satisfies WriterRequest);
    await closed;
    await worker.terminate();
  }

  private pump(): void {
    if (this.inFlight || this.queue.length === 0) return;
    const worker = this.thread();
    if (!this.ready) return;
    const next = this.queue.shift()!;
    this.inFlight = next;
    worker.ref();
    worker.postMessage(next.request);
  }

  private thread(): Worker {
    if (this.worker) return this.worker;
    const options = { workerData: { file: this.file, hold: this.hold } };
    const worker = THREAD_FILE.pathname.endsWith('.ts') ? new Worker(tsBootstrap(THREAD_FILE.href), { ...options, eval: true }) : new Worker(THREAD_FILE, options);
    worker.on('message', (reply: WriterReply) => this.answered(reply));
    worker.on('error', (error) => this.lost(worker, error));
    worker.on('exit', (code) => this.lost(worker, new Error(`the page writer thread exited (code ${code})`)));
    this.worker = worker;
    this.ready = false;
    return worker;
  }

  private answered(reply: WriterReply): void {
    if ('closed' in reply) return;
    if ('ready' in reply) {
      this.ready = true;
      return this.pump();
    }
    const pending = this.inFlight;
    if (!pending || pending.request.id !== reply.id) return;
    this.inFlight = null;
    this.worker?.unref();
    if ('result' in reply) pending.resolve(reply.result);
    else if ('fenced' in reply) pending.reject(new FencedError(reply.fenced));
    else pending.reject(new Error(reply.error));
    this.takeTurns();
  }

  /** The thread died (it should not): its write is failed, and the next write starts a new thread. */
  private lost(worker: Worker, error: Error): void {
    if (this.worker !== worker) return;
    this.worker = null;
    this.ready = false;
    const pending = this.inFlight;
    this.inFlight = null;
    pending?.reject(error);
    // a thread that could not start fails what waits for it, rather than starting again and again
    if (!pending) this.queue.splice(0).forEach((waiting) => waiting.reject(error));
    this.takeTurns();
  }

  /** The main connection's waiting transactions run first, then the next write goes to the thread. */
  private takeTurns(): void {
    const turns = this.turns;
    this.turns = [];
    for (const turn of turns) turn.run();
    this.pump();
  }
}

/**
 * From the sources (vitest, tsx) the thread loads its TypeScript through tsx's tsImport: a loader
 * given to a worker in execArgv (--import tsx) does not reach the worker's own modules here.
 */
function tsBootstrap(href: string): string {
  const api = pathToFileURL(createRequire(import.meta.url).resolve('tsx/esm/api').replace(/\.cjs$/, '.mjs')).href;
  return `import(${JSON.stringify(api)}).then(({ tsImport }) => tsImport(${JSON.stringify(href)}, ${JSON.stringify(href)}))`;
}
