import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig, resolveConfig } from '../../server/config.ts';
import type { Site } from '../fixtures/site.ts';
import { siteForTest } from '../helpers/cleanup.ts';
import { collect, JOB_PROGRESS, START_CRAWL, appForTest, type EventPayload, type TestApp } from '../helpers/app.ts';

let app: TestApp | undefined;
let site: Site | undefined;

describe('operator crawl caps (SLUICE_CRAWL_*)', () => {
  it('are read from the environment within safe bounds, with a message naming the variable', () => {
    const config = loadConfig({ SLUICE_CRAWL_MAX_PAGES: '50', SLUICE_CRAWL_MAX_DEPTH: '3', SLUICE_CRAWL_TIMEOUT_MS: '5000' });
    expect(config).toMatchObject({ crawlMaxPages: 50, crawlMaxDepth: 3, crawlTimeoutMs: 5000, crawlMaxRedirects: 5 });
    for (const [name, value] of [
      ['SLUICE_CRAWL_MAX_PAGES', '0'],
      ['SLUICE_CRAWL_MAX_PAGES', '1000000'],
      ['SLUICE_CRAWL_MAX_DEPTH', '-1'],
      ['SLUICE_CRAWL_MAX_BODY_BYTES', '10'],
      ['SLUICE_CRAWL_MAX_REDIRECTS', '100'],
      ['SLUICE_CRAWL_MAX_DURATION_MS', 'forever'],
      ['SLUICE_CRAWL_TIMEOUT_MS', '600000'],
    ]) {
      expect(() => loadConfig({ [name!]: value })).toThrow(ConfigError);
      expect(() => loadConfig({ [name!]: value })).toThrow(new RegExp(`^${name} must be a whole number from`));
    }
    expect(() => resolveConfig({ crawlMaxPages: 0 })).toThrow(/SLUICE_CRAWL_MAX_PAGES/);
  });

  it('bound what a caller may ask for', async () => {
    app = await appForTest({ crawlMaxPages: 50, crawlMaxDepth: 1 });
    const pages = await app.gql(START_CRAWL, { input: { url: 'https://example.com/', maxPages: 60 } });
    expect(pages.errors?.[0]).toMatchObject({ message: expect.stringContaining('between 1 and 50'), extensions: { code: 'BAD_USER_INPUT', field: 'maxPages' } });
    const depth = await app.gql(START_CRAWL, { input: { url: 'https://example.com/', maxDepth: 2 } });
    expect(depth.errors?.[0]).toMatchObject({ message: expect.stringContaining('between 0 and 1'), extensions: { code: 'BAD_USER_INPUT', field: 'maxDepth' } });
  });

  it('bound what each request may take: redirects and body size', async () => {
    site = await siteForTest({
      pages: 1,
      bigPageBytes: 64 * 1024,
      homeLinks: ['/big.html', '/hop'],
      redirects: { '/hop': '/page-after-hop' },
      routes: { '/page-after-hop': { headers: { 'content-type': 'text/html' }, body: '<title>after</title><p>after the hop</p>' } },
    });
    app = await appForTest({ crawlMaxBodyBytes: 16 * 1024, crawlMaxRedirects: 0 });
    const id = (await app.gql(START_CRAWL, { input: { url: site.url, maxDepth: 1 } })).data!.startCrawl.id;
    const events = collect<EventPayload>(app.ws(), JOB_PROGRESS, { id }, 'jobProgress');
    await events.done;
    const logs = events.items.filter((e) => e.type === 'LOG').map((e) => e.message ?? '');
    expect(logs.some((m) => m.includes('/big.html') && m.includes('the limit is 16384'))).toBe(true);
    expect(logs.some((m) => m.includes('/hop') && m.includes('more than 0 redirects'))).toBe(true);
    expect(site.requests).not.toContain('/page-after-hop');
    expect(events.items.at(-1)).toMatchObject({ status: 'SUCCEEDED', progress: { pagesFetched: 1 } });
  });
});
