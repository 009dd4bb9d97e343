// A crawl connects only to public addresses (SSRF): on every hop, redirect and file it fetches.
import { beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { isDisallowedAddress, type AddressRules } from '../../server/jobs/crawl/address.ts';
import { DEFAULT_CRAWL_LIMITS, parseCrawlInput } from '../../server/jobs/crawl/input.ts';
import type { Site } from '../fixtures/site.ts';
import { siteForTest } from '../helpers/cleanup.ts';
import { crawl as runCrawl, createTestContext } from '../helpers/crawl-test-context.ts';
import { suiteResources } from '../helpers/suite-resources.ts';

describe('crawls connect only to public addresses, on every hop and every file', () => {
  const PUBLIC_IP = '127.0.0.2';
  const resources = suiteResources();
  let internal: Site;
  let publicSite: Site;
  let resolutions: Record<string, string[][]>;
  const rules: AddressRules = {
    resolve: async (hostname) => {
      const answers = resolutions[hostname];
      if (!answers?.length) throw Object.assign(new Error(`getaddrinfo ENOTFOUND ${hostname}`), { code: 'ENOTFOUND' });
      const ips = answers.length > 1 ? answers.shift()! : answers[0]!; // the last answer repeats
      return ips.map((address) => ({ address, family: 4 }));
    },
    isDisallowed: (ip) => ip !== PUBLIC_IP && isDisallowedAddress(ip),
  };
  const crawl = async (url: string, includePatterns?: string[]) => {
    const input = parseCrawlInput({ url, maxPages: 20, includePatterns }, { ...DEFAULT_CRAWL_LIMITS, retryBaseDelayMs: 1 });
    const t = createTestContext(input, { allowPrivateNetworks: false, addressRules: rules });
    const outcome = await runCrawl(t).then(
      (result) => ({ result, error: null }),
      (error: Error) => ({ result: null, error }),
    );
    return { ...outcome, logs: t.logs, pages: t.pages };
  };

  beforeAll(async () => {
    internal = await resources.site({ pages: 2, routes: { '/secret': { body: 'internal secret' } } });
    const inside = new URL(internal.url).port;
    publicSite = await resources.site({
      host: PUBLIC_IP,
      pages: 2,
      redirects: {
        '/to-literal': `http://127.0.0.1:${inside}/secret`,
        '/to-name': `http://internal.sluice.test:${inside}/secret`,
        '/to-localhost': `http://localhost:${inside}/secret`,
        '/to-sub-localhost': `http://app.localhost:${inside}/secret`,
        '/to-mapped': `http://[::ffff:127.0.0.1]:${inside}/secret`,
        '/to-decimal': `http://2130706433:${inside}/secret`,
        '/to-hex': `http://0x7f000001:${inside}/secret`,
        '/to-metadata': 'http://169.254.169.254/latest/meta-data/',
      },
      robotsTxt: `User-agent: *\nAllow: /\nSitemap: http://127.0.0.1:${inside}/sitemap.xml\nSitemap: http://internal.sluice.test:${inside}/sitemap.xml\n`,
      llmsTxt: `# Links\n- [secret](http://127.0.0.1:${inside}/secret)\n- [named](http://internal.sluice.test:${inside}/secret)\n`,
    });
  });
  beforeEach(() => {
    resolutions = { 'public.sluice.test': [[PUBLIC_IP]], 'internal.sluice.test': [['127.0.0.1']], localhost: [['127.0.0.1']], 'localhost.': [['127.0.0.1']] };
  });

  const publicUrl = (path: string) => `http://public.sluice.test:${new URL(publicSite.url).port}${path}`;

  it('crawls the public site; robots.txt sitemaps and llms.txt links to private addresses are refused unread', async () => {
    const { result, error, logs } = await crawl(publicUrl('/'));
    expect(error).toBeNull();
    expect(result?.pagesFetched).toBe(2);
    expect(publicSite.requests).toEqual(expect.arrayContaining(['/robots.txt', '/llms.txt', '/', '/page/1']));
    expect(internal.requestCount()).toBe(0);
    expect(logs.join('\n')).not.toContain('internal secret');
  });

  it.each(['/to-literal', '/to-name', '/to-localhost', '/to-sub-localhost', '/to-mapped', '/to-decimal', '/to-hex', '/to-metadata'])(
    'a start URL redirecting %s to a private address fails saying why, and the target gets no request',
    async (path) => {
      const { error } = await crawl(publicUrl(path));
      expect(error?.message).toMatch(/refused to crawl .*(loopback|link-local) address.*SLUICE_ALLOW_PRIVATE_NETWORKS=true/);
      expect(publicSite.requests).toContain(path);
      expect(internal.requestCount()).toBe(0);
    },
  );

  it('links and later redirects to private addresses, in scope on any host, are skipped with a LOG saying why', async () => {
    const inside = new URL(internal.url).port;
    const hop = await siteForTest({
      host: PUBLIC_IP,
      pages: 1,
      homeLinks: ['/hop', `http://127.0.0.1:${inside}/secret`, `http://internal.sluice.test:${inside}/page/1`],
      redirects: { '/hop': `http://[::ffff:7f00:1]:${inside}/secret` },
    });
    resolutions['hop.sluice.test'] = [[PUBLIC_IP]];
    // "/**" puts every host in scope, so only the address rule stands between the crawl and 127.0.0.1
    const { result, logs } = await crawl(`http://hop.sluice.test:${new URL(hop.url).port}/`, ['/**']);
    expect(result).toMatchObject({ pagesFetched: 1, pagesSkipped: 3 });
    const refusals = logs.filter((l) => l.startsWith('skipped') && /refused to crawl .*loopback address/.test(l));
    expect(refusals).toHaveLength(3);
    expect(logs.find((l) => l.includes('/hop'))).toMatch(/\/hop: refused to crawl ::ffff:7f00:1: it is a loopback address/);
    expect(internal.requestCount()).toBe(0);
  });

  it('DNS rebinding: a name that was public at the API check and private at connect time is refused at connect', async () => {
    const port = Number(new URL(publicSite.url).port);
    // the private target listens on the same port as the public site, so a connection there would land
    const target = await siteForTest({ port, pages: 1 });
    resolutions['rebind.sluice.test'] = [[PUBLIC_IP], ['127.0.0.1']];
    const { error } = await crawl(`http://rebind.sluice.test:${port}/`);
    expect(error?.message).toMatch(/refused to crawl rebind\.sluice\.test \(127\.0\.0\.1\)/);
    expect(target.requestCount()).toBe(0);
  });

  it('a name with both public and private addresses is only ever connected to its public one', async () => {
    const port = Number(new URL(publicSite.url).port);
    const target = await siteForTest({ port, pages: 1 });
    resolutions['mixed.sluice.test'] = [['127.0.0.1', PUBLIC_IP]];
    const { result } = await crawl(`http://mixed.sluice.test:${port}/`);
    expect(result?.pagesFetched).toBe(2);
    expect(target.requestCount()).toBe(0);
  });
});
