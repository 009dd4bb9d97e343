import { describe, expect, it } from 'vitest';
import { DEFAULT_CRAWL_LIMITS } from '../../server/jobs/crawl/input.ts';
import { Fetcher } from '../../server/jobs/crawl/fetcher.ts';
import { HostGate } from '../../server/jobs/crawl/politeness.ts';
import { parseRobots, RobotsCache, robotsToken } from '../../server/jobs/crawl/robots.ts';
import type { Site } from '../fixtures/site.ts';
import { deferCleanup, siteForTest } from '../helpers/cleanup.ts';

const UA = 'SluiceBot/0.1 (+https://example.com/bot)';
const ROBOTS = `
User-agent: *
Disallow: /private/
Crawl-delay: 1

User-agent: SluiceBot
Disallow: /secret
Allow: /secret/open
Crawl-delay: 2

Sitemap: https://example.com/sitemap-index.xml
`;

describe('parseRobots', () => {
  const rules = parseRobots('https://example.com/robots.txt', ROBOTS, UA);

  it('applies the group for our token over the * group', () => {
    expect(rules.isAllowed('https://example.com/secret/page')).toBe(false);
    expect(rules.isAllowed('https://example.com/secret/open/x')).toBe(true);
    expect(rules.isAllowed('https://example.com/private/x')).toBe(true);
    expect(rules.crawlDelayMs).toBe(2000);
    expect(rules.sitemaps).toEqual(['https://example.com/sitemap-index.xml']);
  });

  it('uses the * group for other agents', () => {
    const other = parseRobots('https://example.com/robots.txt', ROBOTS, 'OtherBot/1.0');
    expect(other.isAllowed('https://example.com/private/x')).toBe(false);
    expect(other.crawlDelayMs).toBe(1000);
  });

  it('finds the product token in common user agent shapes', () => {
    expect(robotsToken(UA)).toBe('SluiceBot');
    expect(robotsToken('Mozilla/5.0 (compatible; SluiceBot/1.0; +https://x)')).toBe('SluiceBot');
  });
});

describe('HostGate', () => {
  it('spaces request starts to one host by the delay, other hosts unaffected', async () => {
    const gate = new HostGate();
    gate.setDelay('a.test', 40);
    const signal = new AbortController().signal;
    const started = Date.now();
    const times: number[] = [];
    await Promise.all([0, 1, 2].map(() => gate.wait('a.test', signal).then(() => times.push(Date.now() - started))));
    await gate.wait('b.test', signal);
    expect(Date.now() - started).toBeLessThan(200);
    times.sort((a, b) => a - b);
    expect(times[1]).toBeGreaterThanOrEqual(38);
    expect(times[2]).toBeGreaterThanOrEqual(78);
  });

  it('stops waiting on abort', async () => {
    const gate = new HostGate();
    gate.setDelay('a.test', 10_000);
    const controller = new AbortController();
    await gate.wait('a.test', controller.signal);
    const waiting = gate.wait('a.test', controller.signal);
    controller.abort();
    await expect(waiting).rejects.toMatchObject({ name: 'AbortError' });
  });
});

describe('RobotsCache', () => {
  let site: Site | undefined;

  const cacheFor = (s: Site, gate = new HostGate()) => {
    const fetcher = new Fetcher({ limits: { ...DEFAULT_CRAWL_LIMITS, retryBaseDelayMs: 1 }, userAgent: UA, allowPrivateNetworks: true, gate });
    deferCleanup(() => fetcher.close());
    return new RobotsCache(fetcher, gate, UA, 30_000);
  };

  it('loads robots.txt once per origin and applies Crawl-delay to the host', async () => {
    site = await siteForTest({ robotsTxt: 'User-agent: *\nDisallow: /x\nCrawl-delay: 0.05\n' });
    const gate = new HostGate();
    const cache = cacheFor(site, gate);
    const signal = new AbortController().signal;
    const url = new URL(`${site.url}/a`);
    const [rules] = await Promise.all([cache.get(url, signal), cache.get(url, signal)]);
    expect(rules.isAllowed(`${site.url}/x/y`)).toBe(false);
    expect(rules.isAllowed(`${site.url}/a`)).toBe(true);
    expect(rules.note).toMatch(/Crawl-delay 0.05 s/);
    expect(site.requests.filter((p) => p === '/robots.txt')).toHaveLength(1);
  });

  it('allows everything when robots.txt is missing', async () => {
    site = await siteForTest({});
    const rules = await cacheFor(site).get(new URL(site.url), new AbortController().signal);
    expect(rules.isAllowed(`${site.url}/anything`)).toBe(true);
  });

  it('disallows everything when robots.txt keeps failing with 5xx (RFC 9309)', async () => {
    site = await siteForTest({ flaky: { '/robots.txt': 10 } });
    const rules = await cacheFor(site).get(new URL(site.url), new AbortController().signal);
    expect(rules.isAllowed(`${site.url}/`)).toBe(false);
    expect(rules.note).toMatch(/unreachable/);
  });
});
