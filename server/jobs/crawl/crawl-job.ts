import { defineJob, type Attempt, type Job, type JobContext } from '../../engine/job.ts';
import type { ProgressPatch } from '../../executions/progress.ts';
import { abortable, abortReason, throwIfAborted } from '../../lib/abort.ts';
import { refusalReason, type AddressRules } from './address.ts';
import { discoverSeeds } from './discovery.ts';
import { Fetcher, type FetchOutcome } from './fetcher.ts';
import { Frontier, type FrontierEntry, type QueueItem } from './frontier.ts';
import type { CrawlInput } from './input.ts';
import type { PageLink } from './extract.ts';
import { isPageType, type BuiltPage } from './page.ts';
import { inlinePages, type PageProcessor } from './page-pool.ts';
import { HostGate } from './politeness.ts';
import { drain } from './pool.ts';
import { RobotsCache } from './robots.ts';
import { createScope, type Scope } from './scope.ts';
import { canonicalHref, parseHttpUrl } from './urls.ts';
import type { CheckpointEntries, ExecutionWrite } from '../../executions/types.ts';
import type { PageInput } from '../../store/knowledge-records.ts';

/** What a finished crawl reports (the execution's result). */
export interface CrawlResult {
  pagesFetched: number;
  pagesFailed: number;
  pagesSkipped: number;
  pagesStored: number;
  chunksStored: number;
  bytesFetched: number;
  /** What ended the crawl with URLs still queued: its page budget, its time limit, or nothing (it ran out of URLs). */
  stoppedBy: 'maxPages' | 'maxDuration' | null;
  /** URLs queued and not fetched when it ended. */
  urlsLeft: number;
}

type Counts = Pick<CrawlResult, 'pagesFetched' | 'pagesFailed' | 'pagesSkipped' | 'pagesStored' | 'chunksStored'>;

/** Crawl state beyond the frontier, checkpointed under META_KEY. */
interface Meta {
  /** Discovery (robots.txt, sitemaps, llms.txt) is done; a resumed crawl does not repeat it. */
  disc: 1;
  /** Pages stored by earlier attempts, as checkpoints written before STORED_KEY held it (read only). */
  stored?: number;
  /** Time spent fetching by this and earlier attempts, as of this checkpoint: the time limit counts across attempts. */
  spentMs?: number;
}

const META_KEY = '#meta';
/**
 * Pages this execution stored, over all its attempts (pagesStored is not a progress counter): a
 * checkpoint entry the store adds one to in each stored page's transaction (whenStored.countIn), so
 * it is what the store holds even when a page is written while earlier ones are still pending.
 */
const STORED_KEY = '#stored';

/** What a crawl needs from the server config. */
export interface CrawlSettings {
  allowPrivateNetworks: boolean;
  userAgent: string;
  /** How crawls resolve names and judge addresses; only tests set it (see AddressRules). */
  addressRules?: AddressRules;
  /** Where fetched pages are built (the node's worker pool); default: on the calling thread. */
  pages?: PageProcessor;
  /**
   * Pages are handed to the store without their chunks, and the store splits them where it writes
   * them (the SQLite page writer thread: off the main thread). Needs storePages, whose answer
   * carries the chunks the store counted.
   */
  chunkWhereStored?: boolean;
}

/** What a crawl may do beyond its context: store the pages it fetched. */
export interface CrawlCapabilities {
  /**
   * Stores a page with its chunks in the same fenced write as `write` (its PAGE event, progress and
   * checkpoint); false when an identical page (same URL and hash) was already stored. `whenStored`
   * (counters that include this page) is written with it only if the page was stored.
   */
  storePage(page: PageInput, write: ExecutionWrite, whenStored: WhenStored): Promise<boolean>;
  /**
   * Stores several pages as `storePage` would, one after another, in one transaction (a group
   * commit), all or none; one answer per page (`stored`), and the execution's chunks stored once
   * the group is (`chunksStored`, as the store counted them; null if unknown). Without it the crawl
   * stores its pages one by one.
   */
  storePages?(items: readonly PageWrite[]): Promise<{ stored: boolean[]; chunksStored: number | null }>;
}

/** What a page's write records only if the page is stored (see CrawlCapabilities.storePage). */
export type WhenStored = Pick<ExecutionWrite, 'progress' | 'checkpoint'> & { chunksAdded?: number };

/** One page's write, as storePages takes it. */
export interface PageWrite {
  page: PageInput;
  write: ExecutionWrite;
  whenStored: WhenStored;
}

/**
 * Pages built while the crawl's previous group is being written (or in one turn of the event loop,
 * when none is) are stored in one transaction, at most this many: a commit with the full-text index
 * costs about as much as a page's rows, so a group of 16 costs about half as much a page as lone writes.
 */
export const PAGE_GROUP_MAX = 16;

/** A page write's answer: whether the page was stored, and the execution's chunks stored after it when the store says (see storePages). */
interface PageAnswer {
  stored: boolean;
  chunksStored: number | null;
}

/** A fetched page's write: `stored` is called once it is answered (after handedOver is set), or once the page's handling ends without one. */
interface PageWriteSlot {
  handedOver: boolean;
  stored(): void;
}

/** The CRAWL job: fetches a site breadth first into the knowledge base; resumable from its checkpoint. */
export function crawlJob(settings: CrawlSettings, capabilities: (attempt: Attempt) => CrawlCapabilities): Job {
  return defineJob<CrawlInput, CrawlResult, CrawlCapabilities>({
    kind: 'CRAWL',
    resumable: true,
    capabilities,
    run: (input, ctx, caps) => runCrawl(input, ctx, caps, settings),
  });
}

/** One attempt of a crawl (the job's body, also run alone by the crawl's unit tests). */
export function runCrawl(input: CrawlInput, ctx: JobContext<CrawlInput>, caps: CrawlCapabilities, settings: CrawlSettings): Promise<CrawlResult> {
  return new CrawlRun(input, ctx, caps, settings).run();
}

class CrawlRun {
  private readonly stop = new AbortController();
  /** Fires on a cancel from the engine and on a fatal error of this crawl (a refused write). */
  private readonly signal: AbortSignal;
  private readonly start: URL;
  private readonly scope: Scope;
  private readonly gate = new HostGate();
  private readonly fetcher: Fetcher;
  private readonly robots: RobotsCache;
  private readonly notedOrigins = new Set<string>();
  private frontier: Frontier;
  private readonly counts: Counts;
  private readonly bytesBefore: number;
  private deadline = Infinity;
  /** When this attempt started fetching, and the time earlier attempts had spent (from the checkpoint). */
  private attemptStart = Date.now();
  private spentBefore = 0;
  private stoppedByDeadline = false;
  /**
   * Pages that used the budget (maxPages): fetched, failed, or taken and in flight. A URL skipped
   * before its page was fetched (robots.txt, scope, a known redirect target) gives its place back.
   */
  private budgetUsed: number;
  private readonly pages: PageProcessor;
  /** Content hashes of the pages this attempt stored, and where: the same text under two URLs is stored once. */
  private readonly storedTexts = new Map<string, string>();
  /** Pages built and waiting for this turn's group commit (see storeInGroup). */
  private group: (PageWrite & { resolve(answer: PageAnswer): void; reject(error: unknown): void })[] = [];
  private groupScheduled = false;
  /** Groups handed to the store and not yet answered: while there is one, the next group grows instead of being sent. */
  private groupsInFlight = 0;
  /** Pages fetched and not yet stored (built, decided on, written): their fetch slots are free (see handOver). */
  private readonly unstored = new Set<Promise<void>>();

  constructor(
    private readonly input: CrawlInput,
    private readonly ctx: JobContext<CrawlInput>,
    private readonly caps: CrawlCapabilities,
    private readonly settings: CrawlSettings,
  ) {
    this.signal = AbortSignal.any([ctx.signal, this.stop.signal]);
    this.pages = settings.pages ?? inlinePages();
    this.start = new URL(input.url);
    this.scope = createScope({ startUrl: input.url, includePatterns: input.includePatterns, excludePatterns: input.excludePatterns });
    this.fetcher = new Fetcher({
      limits: input.limits,
      userAgent: settings.userAgent,
      allowPrivateNetworks: settings.allowPrivateNetworks,
      gate: this.gate,
      addressRules: settings.addressRules,
    });
    this.robots = new RobotsCache(this.fetcher, this.gate, settings.userAgent, input.limits.maxRetryAfterMs);
    this.frontier = new Frontier(input.maxDepth, Frontier.urlLimit(input.maxPages));
    const p = ctx.initialProgress;
    this.budgetUsed = p.pagesFetched + p.pagesFailed;
    this.counts = { pagesFetched: p.pagesFetched, pagesFailed: p.pagesFailed, pagesSkipped: p.pagesSkipped, pagesStored: 0, chunksStored: p.chunksStored };
    this.bytesBefore = p.bytesFetched;
  }

  async run(): Promise<CrawlResult> {
    try {
      // Fail fast, before any request: a refused start URL ends the execution FAILED with this reason.
      const refusal = await abortable(refusalReason(this.input.url, this.settings.allowPrivateNetworks, this.settings.addressRules), this.signal);
      if (refusal) throw new Error(refusal);
      const checkpoint = await abortable(this.ctx.loadCheckpoint(), this.signal);
      const meta = checkpoint.get(META_KEY) as Partial<Meta> | undefined;
      this.frontier = Frontier.restore(checkpoint, this.input.maxDepth, Frontier.urlLimit(this.input.maxPages));
      const stored = checkpoint.get(STORED_KEY);
      this.counts.pagesStored = typeof stored === 'number' ? stored : (meta?.stored ?? 0);
      // a checkpoint from before STORED_KEY: its count is carried over before the store adds to it
      if (typeof stored !== 'number' && this.counts.pagesStored > 0) await this.commit({ checkpoint: { [STORED_KEY]: this.counts.pagesStored } });
      // across attempts: a paused or resumed crawl has only what its earlier attempts left of its time limit
      this.spentBefore = meta?.spentMs ?? 0;
      this.attemptStart = Date.now();
      this.deadline = this.attemptStart + this.input.limits.maxDurationMs - this.spentBefore;
      if (!meta?.disc) await this.discover();
      this.ctx.progress({ stage: 'fetching', message: null });
      await drain<QueueItem>({
        concurrency: this.input.limits.concurrency,
        signal: this.signal,
        take: () => this.takeNext(),
        run: (item) => this.guard(this.crawlPage(item)),
      });
      await this.answered();
      const end = { stoppedBy: this.stoppedBy(), urlsLeft: this.frontier.pending };
      await this.finish(end);
      return { ...this.counts, bytesFetched: this.bytes(), ...end };
    } catch (error) {
      if (this.ctx.signal.aborted) throw abortReason(this.ctx.signal);
      throw error;
    } finally {
      this.stop.abort();
      await this.fetcher.close();
    }
  }

  /** Reads robots.txt, the sitemaps and llms.txt, and queues the start URL and the seeds they list. */
  private async discover(): Promise<void> {
    this.ctx.progress({ stage: 'discovering', message: 'reading robots.txt, sitemaps and llms.txt' });
    const rules = this.input.respectRobotsTxt ? await this.robots.get(this.start, this.signal) : null;
    const entries: CheckpointEntries = {};
    this.admit(this.input.url, 0, entries);
    const found = await discoverSeeds({
      fetcher: this.fetcher,
      signal: this.signal,
      start: this.start,
      robotsSitemaps: rules?.sitemaps ?? [],
      limit: this.input.maxPages,
      maxBytes: this.input.limits.maxBodyBytes,
    });
    for (const url of found.urls) this.admit(url, 1, entries);
    entries[META_KEY] = this.meta();
    const notes = [rules?.note, ...found.notes].filter(Boolean).join('; ') || 'no sitemap or llms.txt found';
    await this.commit({
      event: { type: 'LOG', message: `discovery: ${notes}; ${this.frontier.discovered} URLs queued` },
      progress: { ...this.patch(), stage: 'fetching' },
      checkpoint: entries,
    });
    if (rules?.note) this.notedOrigins.add(this.start.origin);
  }

  private takeNext(): QueueItem | undefined {
    if (Date.now() >= this.deadline) {
      this.stoppedByDeadline = this.frontier.pending > 0;
      return undefined;
    }
    if (this.budgetUsed >= this.input.maxPages) return undefined;
    const item = this.frontier.next();
    if (item) this.budgetUsed++;
    return item;
  }

  private stoppedBy(): CrawlResult['stoppedBy'] {
    if (this.frontier.pending === 0) return null;
    return this.stoppedByDeadline ? 'maxDuration' : 'maxPages';
  }

  // A fatal error in one page (a refused write, a refused start URL) stops the other pages at once.
  private async guard<T>(task: Promise<T>): Promise<T> {
    try {
      return await task;
    } catch (error) {
      if (!this.signal.aborted) this.stop.abort(error);
      throw error;
    }
  }

  private async crawlPage(item: QueueItem): Promise<{ rest: Promise<void> } | void> {
    const url = new URL(item.href);
    const disallowed = await this.robotsDisallow(url);
    if (disallowed) return this.settle(item, 'skip', disallowed, { unfetched: true });
    const isStart = item.key === this.input.url;
    const outcome = await this.fetcher.fetch({
      url,
      signal: this.signal,
      accept: isPageType,
      checkRedirect: (target) => this.checkRedirect(target, item, isStart),
    });
    switch (outcome.kind) {
      case 'ok':
        return this.handOver(item, outcome);
      case 'refused':
        if (isStart) throw new Error(outcome.reason);
        return this.settle(item, 'skip', outcome.reason, { unfetched: true });
      case 'skipped':
        return this.settle(item, 'skip', outcome.reason);
      case 'failed':
        return this.settle(item, 'fail', outcome.reason);
    }
  }

  /**
   * A fetched page's request slot is freed before the page is built: the next request goes out
   * first, and the site answers it while this thread builds the page. (With the slot held through
   * the build, this thread built a burst of pages while the site idled, then idled while the site
   * answered the next burst.) At most twice the concurrency of pages are fetched and not stored
   * (being built, waiting for their group, being written); beyond that the slot waits for fewer. So
   * at most three times the concurrency of pages are fetched and not stored at any time (a pause or
   * a crash makes the next attempt fetch those once more).
   */
  private async handOver(item: QueueItem, outcome: Extract<FetchOutcome, { kind: 'ok' }>): Promise<{ rest: Promise<void> }> {
    let stored!: () => void;
    const unstored = new Promise<void>((resolve) => (stored = resolve)).finally(() => this.unstored.delete(unstored));
    this.unstored.add(unstored);
    // the rest (drain waits for it, then takes what the page queued): the page built, its links
    // queued and its write handed over; stored once that write is answered, or as the rest ends without one
    const write = { handedOver: false, stored };
    const rest = this.guard(this.storeLater(item, outcome, write)).finally(() => write.handedOver || stored());
    // drain sees its failure once this slot is free; until then (other slots' pages keep it waiting) it is not unhandled
    rest.catch(() => {});
    while (this.unstored.size > 2 * this.input.limits.concurrency) await Promise.race(this.unstored);
    return { rest };
  }

  private async storeLater(item: QueueItem, outcome: Extract<FetchOutcome, { kind: 'ok' }>, write: PageWriteSlot): Promise<void> {
    // after the continuations of this turn (the next request is written) and the I/O that came meanwhile
    await new Promise((resolve) => setImmediate(resolve));
    throwIfAborted(this.signal);
    return this.store(item, outcome, write);
  }

  /** Builds a fetched page, queues the links it holds, and hands its write over (see PageWriteSlot). */
  private async store(item: QueueItem, outcome: Extract<FetchOutcome, { kind: 'ok' }>, slot: PageWriteSlot): Promise<void> {
    let key = canonicalHref(outcome.url);
    const entries: CheckpointEntries = {};
    if (key !== item.key && this.frontier.has(key)) {
      return this.settle(item, 'skip', `redirects to ${key}, which this crawl already has`, { unfetched: true });
    }
    let built: BuiltPage;
    try {
      built = await this.pages.build(
        { body: outcome.body, mimeType: outcome.mimeType, charset: outcome.charset, url: outcome.url.href, key, sourceUrl: this.start.origin, chunk: !this.settings.chunkWhereStored },
        this.signal,
      );
    } catch (error) {
      if (this.signal.aborted) throw abortReason(this.signal);
      // one malformed page must not end the whole crawl
      return this.settle(item, 'fail', `could not read the page: ${error instanceof Error ? error.message : String(error)}`);
    }
    if (key !== item.key) entries[key] = this.frontier.alias(key, item.depth);
    if (item.depth < this.input.maxDepth) for (const link of built.links) this.admitLink(link, item.depth + 1, entries);
    this.counts.pagesFetched++;
    entries[item.key] = this.frontier.finish(item.key, 'done');
    const canonical = this.canonicalKey(built, key);
    let notStored = built.page ? null : built.reason;
    if (built.page && canonical) {
      if (this.frontier.state(canonical) === 'done') notStored = `its canonical URL ${canonical} is stored instead`;
      else {
        // stored under the URL the site names as canonical, which is then not fetched again
        entries[canonical] = this.frontier.alias(canonical, item.depth);
        key = canonical;
        built.page.url = canonical;
      }
    }
    const sameText = built.page && this.storedTexts.get(built.page.contentHash);
    if (sameText && sameText !== key) notStored = `the same text as ${sameText}, stored once`;
    if (notStored !== null || !built.page) {
      entries[META_KEY] = this.meta();
      await this.commit({ event: { type: 'LOG', message: `not stored ${key}: ${notStored}` }, progress: this.patch(), checkpoint: entries });
      return;
    }
    this.storedTexts.set(built.page.contentHash, key);
    // The counters that include this page go in the same transaction as the page, applied only if the
    // store stored it (an unchanged page is not): what the execution reports is what the store holds,
    // whatever stops it after this write, and a resumed attempt does not count an unchanged page.
    entries[META_KEY] = this.meta();
    // added to the row's count and to the checkpoint's by the store: earlier pages' writes may still be pending
    // without its chunks (chunkWhereStored) the store counts them
    const chunks = built.page.chunks?.length;
    const ifStored = { chunksAdded: chunks, countIn: STORED_KEY };
    slot.handedOver = true;
    void this.storeInGroup({ page: built.page, write: { event: { type: 'PAGE', message: key }, progress: this.patch(), checkpoint: entries }, whenStored: ifStored })
      .then(
        ({ stored: isNew, chunksStored }) => {
          if (!isNew) return;
          this.counts.pagesStored++;
          if (chunks !== undefined) this.counts.chunksStored += chunks;
          else if (chunksStored !== null) this.counts.chunksStored = Math.max(this.counts.chunksStored, chunksStored);
        },
        (error: unknown) => {
          // a refused write stops the crawl, as it would had its page's slot waited for it
          if (!this.signal.aborted) this.stop.abort(error);
        },
      )
      .finally(slot.stored);
  }

  /** Waits for every page fetched to be stored; a refused write has aborted the crawl, and rejects here. */
  private async answered(): Promise<void> {
    while (this.unstored.size > 0) await Promise.race(this.unstored);
    if (this.signal.aborted) throw abortReason(this.signal);
  }

  /**
   * Group commit: pages built while the previous group is being written join the next group, sent
   * when that write is answered (or once PAGE_GROUP_MAX wait); with none being written, a group is
   * sent at the end of the turn it was started in. Every other write of the crawl sends the group
   * first (see commit), so the writes stay in the order they were made. A group sent after the crawl
   * was paused or cancelled is refused whole (one fenced write): its pages, their counters and their
   * checkpoint entries are not written, so the checkpoint claims nothing the store does not hold, and
   * a resumed attempt fetches those pages again, as it does the pages in flight.
   */
  private storeInGroup(item: PageWrite): Promise<PageAnswer> {
    const storePages = this.caps.storePages;
    if (!storePages) return this.caps.storePage(item.page, item.write, item.whenStored).then((stored) => ({ stored, chunksStored: null }));
    return new Promise((resolve, reject) => {
      this.group.push({ ...item, resolve, reject });
      if (this.group.length >= PAGE_GROUP_MAX) this.sendGroup();
      else if (this.groupsInFlight === 0 && !this.groupScheduled) {
        this.groupScheduled = true;
        setImmediate(() => {
          this.groupScheduled = false;
          if (this.groupsInFlight === 0) this.sendGroup();
        });
      }
    });
  }

  /** Hands the waiting group to the store, now (the write is queued in the attempt's order at once). */
  private sendGroup(): void {
    const group = this.group;
    if (group.length === 0) return;
    this.group = [];
    this.groupsInFlight++;
    // sent even after an abort, as a lone page write was: if the row has moved on the store refuses
    // it; if not (a node shutting down) it lands before the writes made after it, which count it
    this.caps.storePages!(group.map(({ page, write, whenStored }) => ({ page, write, whenStored }))).then(
      ({ stored, chunksStored }) => {
        this.groupAnswered();
        group.forEach((item, i) => item.resolve({ stored: stored[i]!, chunksStored }));
      },
      (error: unknown) => {
        this.groupAnswered();
        group.forEach((item) => item.reject(error));
      },
    );
  }

  /** The pages grouped while the last group was being written go next. */
  private groupAnswered(): void {
    if (--this.groupsInFlight === 0) this.sendGroup();
  }

  /** A write of the crawl other than a page's: the pages grouped before it go first. */
  private commit(write: ExecutionWrite): Promise<void> {
    this.sendGroup();
    return this.ctx.commit(write);
  }

  /** The page's rel=canonical as a frontier key, when it names another URL of this crawl's scope. */
  private canonicalKey(built: BuiltPage, key: string): string | null {
    const url = built.canonical ? parseHttpUrl(built.canonical) : null;
    if (!url) return null;
    const canonical = canonicalHref(url);
    return canonical !== key && this.scope.contains(canonical) ? canonical : null;
  }

  /**
   * Counts a URL as skipped or failed and records why, in one write with its checkpoint state.
   * `unfetched`: no page was fetched for it (robots.txt, scope, a refused address), so it uses no budget.
   */
  private async settle(item: QueueItem, state: 'skip' | 'fail', reason: string, options: { unfetched?: boolean } = {}): Promise<void> {
    if (options.unfetched) this.budgetUsed--;
    if (state === 'skip') this.counts.pagesSkipped++;
    else this.counts.pagesFailed++;
    const verb = state === 'skip' ? 'skipped' : 'failed';
    await this.commit({
      event: { type: 'LOG', message: `${verb} ${item.href}: ${reason}` },
      progress: this.patch(),
      checkpoint: { [item.key]: this.frontier.finish(item.key, state), [META_KEY]: this.meta() },
    });
  }

  private async checkRedirect(target: URL, item: QueueItem, fromStart: boolean): Promise<string | null> {
    const key = canonicalHref(target);
    // http://a.example -> https://www.a.example: the crawl follows the start URL to where the site lives
    if (fromStart && this.input.includePatterns.length === 0) this.scope.addHost(target.host);
    if (!this.scope.contains(key)) return 'outside the crawl scope';
    // "/docs" -> "/docs/" is the same page; any other known target is fetched (or was) on its own
    if (key !== item.key && this.frontier.has(key)) return 'a page this crawl already has';
    return this.robotsDisallow(target);
  }

  private async robotsDisallow(url: URL): Promise<string | null> {
    if (!this.input.respectRobotsTxt) return null;
    const rules = await this.robots.get(url, this.signal);
    if (rules.note && !this.notedOrigins.has(url.origin)) {
      this.notedOrigins.add(url.origin);
      await this.commit({ event: { type: 'LOG', message: rules.note } });
    }
    return rules.isAllowed(url.href) ? null : 'disallowed by robots.txt';
  }

  private admit(link: string, depth: number, entries: CheckpointEntries): void {
    const url = parseHttpUrl(link);
    if (url) this.admitLink({ href: url.href, key: canonicalHref(url) }, depth, entries);
  }

  /** Queues a link of a built page (its key worked out with the page, off this thread) unless known or out of scope. */
  private admitLink({ href, key }: PageLink, depth: number, entries: CheckpointEntries): void {
    // most links of a site's pages are to pages it already knows: one lookup, no URL parsing
    if (this.frontier.has(key)) return;
    // the start page is fetched whatever the patterns say: it is where the user asked to begin
    if (depth > 0 && !this.scope.contains(key)) return;
    const entry: FrontierEntry | null = this.frontier.admit(key, href, depth);
    if (entry) entries[key] = entry;
  }

  private async finish(end: Pick<CrawlResult, 'stoppedBy' | 'urlsLeft'>): Promise<void> {
    const { pagesFetched, pagesFailed, pagesSkipped, pagesStored } = this.counts;
    const summary = `${pagesFetched} fetched (${pagesStored} stored), ${pagesFailed} failed, ${pagesSkipped} skipped`;
    const duration = this.input.limits.maxDurationMs;
    const limit = {
      maxDuration: this.input.timeLimited ? `its time limit of ${duration / 1000} s` : `its ${duration / 60_000} min limit`,
      maxPages: `its budget of ${this.input.maxPages} pages`,
    };
    const message = end.stoppedBy
      ? `crawl stopped at ${limit[end.stoppedBy]} with ${end.urlsLeft} URLs not fetched: ${summary}`
      : `crawl finished: ${summary}`;
    await this.commit({ event: { type: 'LOG', message }, progress: { ...this.patch(), stage: 'done', percent: 100, message } });
  }

  /** The crawl state beyond the frontier, as of now; written with every checkpoint entry. */
  private meta(): Meta {
    return { disc: 1, spentMs: this.spentBefore + (Date.now() - this.attemptStart) };
  }

  private bytes(): number {
    return this.bytesBefore + this.fetcher.bytesRead;
  }

  /** Absolute counters (the store merges them monotonically) and the percent done. */
  private patch(): ProgressPatch {
    const { pagesFetched, pagesFailed, pagesSkipped, chunksStored } = this.counts;
    // skipped URLs leave the budget to others: the work left is the budget or the URLs known, whichever is less
    const total = Math.min(this.frontier.discovered - pagesSkipped, this.input.maxPages);
    const settled = pagesFetched + pagesFailed;
    return {
      pagesDiscovered: this.frontier.discovered,
      pagesFetched,
      pagesFailed,
      pagesSkipped,
      chunksStored,
      bytesFetched: this.bytes(),
      percent: total > 0 ? Math.min(100, (100 * settled) / total) : 0,
    };
  }
}
