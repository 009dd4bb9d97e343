import { describe, expect, it } from 'vitest';
import { Fetcher, type FetcherOptions } from '../../server/jobs/crawl/fetcher.ts';
import { DEFAULT_CRAWL_LIMITS } from '../../server/jobs/crawl/input.ts';
import { isPageType } from '../../server/jobs/crawl/page.ts';
import { HostGate } from '../../server/jobs/crawl/politeness.ts';
import type { Site } from '../fixtures/site.ts';
import { deferCleanup, siteForTest } from '../helpers/cleanup.ts';

describe('Fetcher', () => {
  let site: Site | undefined;
  /** The last Fetcher `make` built (closed after the test by the cleanup registry). */
  let fetcher: Fetcher | undefined;
  const signal = new AbortController().signal;

  const make = (options: Partial<FetcherOptions> = {}) => {
    const made = new Fetcher({
      limits: { ...DEFAULT_CRAWL_LIMITS, retryBaseDelayMs: 1, requestTimeoutMs: 2000 },
      userAgent: 'SluiceBot/0.1',
      allowPrivateNetworks: true,
      gate: new HostGate(),
      ...options,
    });
    deferCleanup(() => made.close());
    fetcher = made;
    return made;
  };
  const at = (path: string) => new URL(path, site?.url);

  it('retries 500 and 429 (honouring Retry-After) then succeeds', async () => {
    site = await siteForTest({ pages: 2, flaky: { '/page/1': 2 }, routes: { '/limited': { status: 429, headers: { 'retry-after': '0' }, body: '' } } });
    const outcome = await make().fetch({ url: at('/page/1'), signal, accept: isPageType });
    expect(outcome).toMatchObject({ kind: 'ok', status: 200, mimeType: 'text/html' });
    expect(site.requests).toEqual(['/page/1', '/page/1', '/page/1']);
    expect(await fetcher?.fetch({ url: at('/limited'), signal })).toMatchObject({ kind: 'failed', status: 429 });
    expect(site.requests.filter((p) => p === '/limited')).toHaveLength(3);
  });

  it('gives up after two retries and does not retry a 404', async () => {
    site = await siteForTest({ flaky: { '/down': 5 } });
    expect(await make().fetch({ url: at('/down'), signal })).toMatchObject({ kind: 'failed', reason: 'HTTP 500' });
    expect(await fetcher?.fetch({ url: at('/nope'), signal })).toMatchObject({ kind: 'failed', reason: 'HTTP 404' });
    expect(site.requests).toEqual(['/down', '/down', '/down', '/nope']);
  });

  it('follows redirects hop by hop, asking about each target, up to the limit', async () => {
    site = await siteForTest({ pages: 1, redirects: { '/a': '/b', '/b': '/', '/loop1': '/loop2', '/loop2': '/loop1', '/out': 'https://elsewhere.example/' } });
    const asked: string[] = [];
    const checkRedirect = (target: URL) => {
      asked.push(target.pathname);
      return target.host === new URL(site?.url ?? '').host ? null : 'outside the crawl scope';
    };
    const ok = await make().fetch({ url: at('/a'), signal, checkRedirect });
    expect(ok).toMatchObject({ kind: 'ok', url: at('/') });
    expect(asked).toEqual(['/b', '/']);
    expect(await fetcher?.fetch({ url: at('/loop1'), signal, checkRedirect })).toMatchObject({ kind: 'failed', reason: 'more than 5 redirects' });
    expect(await fetcher?.fetch({ url: at('/out'), signal, checkRedirect })).toMatchObject({ kind: 'skipped', reason: /outside the crawl scope/ });
  });

  it('skips other content types unread and bodies over the cap', async () => {
    site = await siteForTest({ bigPageBytes: 300_000, routes: { '/declared': { headers: { 'content-type': 'text/html', 'content-length': '999999' }, body: 'x'.repeat(999_999) } } });
    const small = make({ limits: { ...DEFAULT_CRAWL_LIMITS, maxBodyBytes: 100_000 } });
    expect(await small.fetch({ url: at('/image.png'), signal, accept: isPageType })).toMatchObject({ kind: 'skipped', reason: /image\/png is not a text page/ });
    expect(await small.fetch({ url: at('/big.html'), signal, accept: isPageType })).toMatchObject({ kind: 'skipped', reason: /too large: more than 100000 bytes/ });
    expect(await small.fetch({ url: at('/declared'), signal, accept: isPageType })).toMatchObject({ kind: 'skipped', reason: /too large: 999999 bytes/ });
  });

  it('times out a slow response', async () => {
    site = await siteForTest({ routes: { '/slow': { delayMs: 5000, body: 'late' } } });
    const quick = make({ limits: { ...DEFAULT_CRAWL_LIMITS, requestTimeoutMs: 50, maxRetries: 0 } });
    expect(await quick.fetch({ url: at('/slow'), signal })).toMatchObject({ kind: 'failed', reason: 'timed out after 0.05 s' });
  });

  it('refuses private addresses at connect time when they are not allowed', async () => {
    site = await siteForTest({ pages: 1 });
    const guarded = make({ allowPrivateNetworks: false });
    const byName = await guarded.fetch({ url: new URL(`http://localhost:${new URL(site.url).port}/`), signal });
    expect(byName).toMatchObject({ kind: 'refused', reason: /loopback.*SLUICE_ALLOW_PRIVATE_NETWORKS=true/ });
    const byLiteral = await guarded.fetch({ url: at('/'), signal });
    expect(byLiteral).toMatchObject({ kind: 'refused', reason: /127\.0\.0\.1/ });
    expect(site.requestCount()).toBe(0);
  });

  it('rejects with the abort reason when cancelled mid-request', async () => {
    site = await siteForTest({ routes: { '/slow': { delayMs: 10_000, body: 'late' } } });
    const controller = new AbortController();
    const pending = make().fetch({ url: at('/slow'), signal: controller.signal });
    await site.waitFor(() => site?.inFlight() === 1);
    controller.abort();
    await expect(pending).rejects.toMatchObject({ name: 'AbortError' });
    await site.waitFor(() => site?.inFlight() === 0);
  });
});
