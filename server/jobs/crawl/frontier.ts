/** Where a URL stands: queued, fetched, failed or skipped. */
export type UrlState = 'q' | 'done' | 'fail' | 'skip';

/**
 * The checkpoint value of one URL (kept short: a crawl writes thousands). `h` is the URL to fetch
 * when it differs from the normalised key (e.g. "/docs/" for key "/docs"); `r` marks a page reached
 * only as a redirect target, which does not count as discovered.
 */
export interface FrontierEntry {
  d: number;
  s: UrlState;
  h?: string;
  r?: 1;
}

export interface QueueItem {
  key: string;
  href: string;
  depth: number;
}

/** The set of URLs a crawl knows, and the FIFO queue of those still to fetch (breadth first). */
export class Frontier {
  private readonly entries = new Map<string, FrontierEntry>();
  private readonly queue: QueueItem[] = [];
  private head = 0;
  private admitted = 0;

  /**
   * `maxUrls` bounds the URLs admitted (memory and checkpoint size), not the pages fetched: URLs that
   * turn out to be forbidden by robots.txt are admitted too, so it is larger than the page budget.
   */
  constructor(
    private readonly maxDepth: number,
    private readonly maxUrls: number,
  ) {}

  /** The admission bound for a crawl with this page budget: room for URLs that use no budget. */
  static urlLimit(maxPages: number): number {
    return maxPages * 4 + 100;
  }

  /** Rebuilds a frontier from checkpoint entries (URL keys only); queued URLs are queued again, shallowest first. */
  static restore(checkpoint: ReadonlyMap<string, unknown>, maxDepth: number, maxUrls: number): Frontier {
    const frontier = new Frontier(maxDepth, maxUrls);
    const queued: QueueItem[] = [];
    for (const [key, value] of checkpoint) {
      if (!isEntry(value)) continue;
      frontier.entries.set(key, value);
      if (!value.r) frontier.admitted++;
      if (value.s === 'q') queued.push({ key, href: value.h ?? key, depth: value.d });
    }
    queued.sort((a, b) => a.depth - b.depth);
    frontier.queue.push(...queued);
    return frontier;
  }

  /** URLs admitted so far (the pagesDiscovered counter). */
  get discovered(): number {
    return this.admitted;
  }

  /** URLs queued and not yet taken. */
  get pending(): number {
    return this.queue.length - this.head;
  }

  has(key: string): boolean {
    return this.entries.has(key);
  }

  /** Where a URL stands, or undefined when the crawl does not know it. */
  state(key: string): UrlState | undefined {
    return this.entries.get(key)?.s;
  }

  /** Admits an unseen URL within the depth limit and the URL bound; returns the entry to checkpoint, or null. */
  admit(key: string, href: string, depth: number): FrontierEntry | null {
    if (depth > this.maxDepth || this.admitted >= this.maxUrls || this.entries.has(key)) return null;
    const entry: FrontierEntry = href === key ? { d: depth, s: 'q' } : { d: depth, s: 'q', h: href };
    this.entries.set(key, entry);
    this.admitted++;
    this.queue.push({ key, href, depth });
    return entry;
  }

  /** Records a redirect target as fetched so it is not fetched again; it does not use the page budget. */
  alias(key: string, depth: number): FrontierEntry {
    const entry: FrontierEntry = { d: depth, s: 'done', r: 1 };
    this.entries.set(key, entry);
    return entry;
  }

  /** Takes the next queued URL, or undefined when the queue is empty. */
  next(): QueueItem | undefined {
    while (this.head < this.queue.length) {
      const item = this.queue[this.head++];
      if (item && this.entries.get(item.key)?.s === 'q') {
        if (this.head > 1024 && this.head * 2 > this.queue.length) this.compact();
        return item;
      }
    }
    return undefined;
  }

  /** Sets a URL's final state; returns the entry to checkpoint. */
  finish(key: string, state: Exclude<UrlState, 'q'>): FrontierEntry {
    const previous = this.entries.get(key);
    const entry: FrontierEntry = { d: previous?.d ?? 0, s: state };
    this.entries.set(key, entry);
    return entry;
  }

  // Drops taken items so a long crawl does not keep its whole history in the queue array.
  private compact(): void {
    this.queue.splice(0, this.head);
    this.head = 0;
  }
}

function isEntry(value: unknown): value is FrontierEntry {
  if (typeof value !== 'object' || value === null) return false;
  const { d, s } = value as Record<string, unknown>;
  return typeof d === 'number' && (s === 'q' || s === 'done' || s === 'fail' || s === 'skip');
}
