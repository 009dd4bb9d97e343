// A JobContext held in memory, to unit-test the crawl job alone (the engine has its own tests).
import pino from 'pino';
import type { JobContext } from '../../server/engine/job.ts';
import { FencedError } from '../../server/executions/types.ts';
import { initialProgress, mergeProgress, type Progress } from '../../server/executions/progress.ts';
import type { AddressRules } from '../../server/jobs/crawl/address.ts';
import { runCrawl, type CrawlCapabilities, type CrawlResult, type CrawlSettings } from '../../server/jobs/crawl/crawl-job.ts';
import type { CrawlInput } from '../../server/jobs/crawl/input.ts';
import type { PageProcessor } from '../../server/jobs/crawl/page-pool.ts';
import type { PageInput } from '../../server/store/knowledge-records.ts';
import { writeAsStored, type StoreWrite } from '../../server/store/store.ts';

export interface TestContext {
  ctx: JobContext<CrawlInput>;
  caps: CrawlCapabilities;
  settings: CrawlSettings;
  /** Every write the crawl made, pages included, in order. */
  commits: StoreWrite[];
  /** Every write the crawl asked for, refused ones included. */
  attempts: StoreWrite[];
  logs: string[];
  pages: Map<string, PageInput>;
  checkpoint: Map<string, unknown>;
  progress(): Progress;
}

export function createTestContext(
  input: CrawlInput,
  options: {
    signal?: AbortSignal;
    checkpoint?: Map<string, unknown>;
    initialProgress?: Progress;
    pages?: Map<string, PageInput>;
    allowPrivateNetworks?: boolean;
    /** Name resolution and address judging for the SSRF guard (see AddressRules). */
    addressRules?: AddressRules;
    /** Where pages are built (default: on this thread). */
    processor?: PageProcessor;
    /** Called after each commit is recorded (e.g. to abort mid-crawl). */
    onCommit?: (write: StoreWrite, index: number) => void;
  } = {},
): TestContext {
  const commits: StoreWrite[] = [];
  const attempts: StoreWrite[] = [];
  const logs: string[] = [];
  const pages = options.pages ?? new Map<string, PageInput>();
  const checkpoint = new Map(options.checkpoint ?? []);
  const start = options.initialProgress ?? initialProgress();
  let progress = start;
  // like the store: once the execution has moved on (here: its signal fired), writes are refused
  const commit = (write: StoreWrite): boolean | null => {
    attempts.push(write);
    if (ctx.signal.aborted) throw new FencedError(ctx.executionId);
    commits.push(write);
    // like the store: whether the page is stored decides what of `whenStored` applies
    let pageStored: boolean | null = null;
    if (write.page) {
      pageStored = pages.get(write.page.url)?.contentHash !== write.page.contentHash;
      pages.set(write.page.url, write.page);
    }
    const applied = writeAsStored(write, pageStored, progress);
    if (applied.progress) progress = mergeProgress(progress, applied.progress);
    for (const [key, value] of Object.entries(applied.checkpoint ?? {})) {
      if (value === null) checkpoint.delete(key);
      else checkpoint.set(key, value);
    }
    const countIn = pageStored ? write.whenStored?.countIn : undefined;
    if (countIn) checkpoint.set(countIn, ((checkpoint.get(countIn) as number | undefined) ?? 0) + 1);
    if (write.event?.type === 'LOG' && write.event.message) logs.push(write.event.message);
    options.onCommit?.(write, commits.length - 1);
    return pageStored;
  };
  const ctx: JobContext<CrawlInput> = {
    executionId: 'test-execution',
    kind: 'CRAWL',
    attempt: 1,
    input,
    signal: options.signal ?? new AbortController().signal,
    log: pino({ level: 'silent' }),
    initialProgress: start,
    progress(patch) {
      progress = mergeProgress(progress, patch);
    },
    async commit(write) {
      commit(write);
    },
    async logEvent(message, patch) {
      logs.push(message);
      if (patch) progress = mergeProgress(progress, patch);
    },
    async loadCheckpoint() {
      return new Map(checkpoint);
    },
  };
  const caps: CrawlCapabilities = { storePage: async (page, write, whenStored) => commit({ ...write, page, whenStored }) !== false };
  const settings: CrawlSettings = {
    allowPrivateNetworks: options.allowPrivateNetworks ?? true,
    userAgent: 'SluiceBot/0.1 (+https://example.com/bot)',
    addressRules: options.addressRules,
    pages: options.processor,
  };
  return { ctx, caps, settings, commits, attempts, logs, pages, checkpoint, progress: () => progress };
}

/** Runs the crawl job's body on a test context, as the engine would run one attempt. */
export function crawl(t: TestContext): Promise<CrawlResult> {
  return runCrawl(t.ctx.input, t.ctx, t.caps, t.settings);
}
