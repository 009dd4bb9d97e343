import robotsParser from 'robots-parser';
import type { Fetcher } from './fetcher.ts';
import type { HostGate } from './politeness.ts';

/** The robots.txt rules of one origin, for our user agent. */
export interface RobotsRules {
  isAllowed(url: string): boolean;
  /** Crawl-delay in milliseconds, or null. */
  crawlDelayMs: number | null;
  sitemaps: string[];
  /** Something the user should know about how this robots.txt was read, or null. */
  note: string | null;
}

const ALLOW_ALL: Omit<RobotsRules, 'note'> = { isAllowed: () => true, crawlDelayMs: null, sitemaps: [] };

/**
 * The product token robots.txt groups are matched against: "SluiceBot" for
 * "SluiceBot/1.0 (+https://...)" and for "Mozilla/5.0 (compatible; SluiceBot/1.0)".
 */
export function robotsToken(userAgent: string): string {
  const compatible = /compatible;\s*([A-Za-z0-9_-]+)/i.exec(userAgent)?.[1];
  if (compatible) return compatible;
  return /^[A-Za-z0-9_-]+/.exec(userAgent.trim())?.[0] ?? '*';
}

/** Parses a robots.txt body; `robotsUrl` is where it was fetched from (rules apply to that origin only). */
export function parseRobots(robotsUrl: string, text: string, userAgent: string): RobotsRules {
  const robots = robotsParser(robotsUrl, text);
  const token = robotsToken(userAgent);
  const delay = robots.getCrawlDelay(token);
  return {
    // undefined means "not this origin": such a URL is judged by its own robots.txt
    isAllowed: (url) => robots.isAllowed(url, token) !== false,
    crawlDelayMs: delay !== undefined && delay > 0 ? delay * 1000 : null,
    sitemaps: robots.getSitemaps(),
    note: null,
  };
}

/** Loads robots.txt once per origin and applies its Crawl-delay to the host gate. */
export class RobotsCache {
  private readonly byOrigin = new Map<string, Promise<RobotsRules>>();

  constructor(
    private readonly fetcher: Fetcher,
    private readonly gate: HostGate,
    private readonly userAgent: string,
    private readonly maxDelayMs: number,
  ) {}

  /** The rules for `url`'s origin; the first call per origin fetches robots.txt. */
  get(url: URL, signal: AbortSignal): Promise<RobotsRules> {
    let rules = this.byOrigin.get(url.origin);
    if (!rules) {
      rules = this.load(url, signal);
      this.byOrigin.set(url.origin, rules);
    }
    return rules;
  }

  private async load(pageUrl: URL, signal: AbortSignal): Promise<RobotsRules> {
    const robotsUrl = new URL('/robots.txt', pageUrl.origin);
    const outcome = await this.fetcher.fetch({ url: robotsUrl, signal });
    if (outcome.kind === 'ok') {
      const rules = parseRobots(robotsUrl.href, outcome.body.toString('utf8'), this.userAgent);
      if (rules.crawlDelayMs !== null) {
        const delay = Math.min(rules.crawlDelayMs, this.maxDelayMs);
        this.gate.setDelay(pageUrl.host, delay);
        return { ...rules, note: `${robotsUrl.href}: Crawl-delay ${delay / 1000} s between requests` };
      }
      return rules;
    }
    // RFC 9309: a missing robots.txt (4xx) allows everything; an unreachable one (5xx, network)
    // means "assume complete disallow".
    if (outcome.kind === 'failed' && (outcome.status === undefined || outcome.status >= 500)) {
      return {
        ...ALLOW_ALL,
        isAllowed: () => false,
        note: `${robotsUrl.href} is unreachable (${outcome.reason}); as RFC 9309 asks, no page of ${pageUrl.origin} is fetched`,
      };
    }
    return { ...ALLOW_ALL, note: null };
  }
}
