import { describe, expect, it } from 'vitest';
import { createScope } from '../../server/jobs/crawl/scope.ts';
import { normalizeUrl, parseHttpUrl } from '../../server/jobs/crawl/urls.ts';

describe('normalizeUrl', () => {
  it.each([
    ['HTTPS://Example.COM:443/Docs/?b=2&a=1#intro', 'https://example.com/Docs?a=1&b=2'],
    ['http://example.com:80/', 'http://example.com/'],
    ['http://example.com:8080/a/', 'http://example.com:8080/a'],
    ['https://example.com/a/?utm_source=x&utm_medium=y&id=3&gclid=z&fbclid=q&mc_cid=1&mc_eid=2&ref=hn', 'https://example.com/a?id=3'],
    ['https://example.com/?utm_campaign=x', 'https://example.com/'],
    ['https://example.com./a', 'https://example.com/a'],
    ['https://user:pw@example.com/a', 'https://example.com/a'],
    ['https://example.com/a/./b/../c', 'https://example.com/a/c'],
    ['https://example.com/s?q=a%20b&q=c', 'https://example.com/s?q=a%20b&q=c'],
    ['https://example.com/s?z=1&a=2&z=0', 'https://example.com/s?a=2&z=1&z=0'],
    // the spellings that only a set-but-empty part tells apart (canonicalHref's fast path must not keep them)
    ['https://example.com/a?', 'https://example.com/a'],
    ['https://example.com/a#', 'https://example.com/a'],
    ['https://example.com/a?#', 'https://example.com/a'],
    ['https://@example.com/a', 'https://example.com/a'],
    ['https://user@example.com/a', 'https://example.com/a'],
    ['https://:pw@example.com/a', 'https://example.com/a'],
    ['https://example.com//', 'https://example.com/'],
    ['https://example.com/a/b', 'https://example.com/a/b'],
  ])('%s -> %s', (input, expected) => {
    expect(normalizeUrl(input)).toBe(expected);
  });

  it('resolves relative links against a base', () => {
    expect(normalizeUrl('../b/?x=1#f', 'https://example.com/docs/a/')).toBe('https://example.com/docs/b?x=1');
    expect(normalizeUrl('/root', 'https://example.com/docs/a')).toBe('https://example.com/root');
    expect(normalizeUrl('//other.org/p/', 'https://example.com/')).toBe('https://other.org/p');
  });

  it('refuses what is not http(s)', () => {
    for (const input of ['mailto:a@b.c', 'javascript:void(0)', 'ftp://example.com/', 'data:text/html,hi', 'not a url']) {
      expect(normalizeUrl(input)).toBeNull();
    }
  });

  it('keeps the trailing slash of the fetchable form, drops only the fragment', () => {
    expect(parseHttpUrl('docs/#x', 'https://example.com/')?.href).toBe('https://example.com/docs/');
  });

  it('maps the spellings of one page to one key', () => {
    const spellings = ['https://Example.com/a/', 'https://example.com/a#top', 'https://example.com/a?utm_source=nl', 'https://example.com:443/a'];
    expect(new Set(spellings.map((s) => normalizeUrl(s))).size).toBe(1);
  });
});

describe('createScope', () => {
  const startUrl = 'https://docs.example.com/guide';

  it('keeps to the start host by default', () => {
    const scope = createScope({ startUrl, includePatterns: [], excludePatterns: [] });
    expect(scope.contains('https://docs.example.com/api')).toBe(true);
    expect(scope.contains('http://docs.example.com/api')).toBe(true);
    expect(scope.contains('https://example.com/')).toBe(false);
    expect(scope.contains('https://docs.example.com:8443/')).toBe(false);
  });

  it('widens to an added host (where the start URL redirected)', () => {
    const scope = createScope({ startUrl, includePatterns: [], excludePatterns: [] });
    scope.addHost('www.example.com');
    expect(scope.contains('https://www.example.com/a')).toBe(true);
  });

  it('lets include globs decide, on any host', () => {
    const scope = createScope({ startUrl, includePatterns: ['https://docs.example.com/guide/**', 'https://cdn.example.org/**'], excludePatterns: [] });
    expect(scope.contains('https://docs.example.com/guide/install/linux')).toBe(true);
    expect(scope.contains('https://cdn.example.org/x')).toBe(true);
    expect(scope.contains('https://docs.example.com/api')).toBe(false);
  });

  it('applies exclude globs, with path-only globs starting with /', () => {
    const scope = createScope({ startUrl, includePatterns: [], excludePatterns: ['/blog/**', '**/*.pdf', 'https://docs.example.com/private*'] });
    expect(scope.contains('https://docs.example.com/blog/2024/post')).toBe(false);
    expect(scope.contains('https://docs.example.com/files/manual.pdf')).toBe(false);
    expect(scope.contains('https://docs.example.com/private-notes')).toBe(false);
    expect(scope.contains('https://docs.example.com/guide/blog')).toBe(true);
  });

  it('matches globs against the query too', () => {
    const scope = createScope({ startUrl, includePatterns: [], excludePatterns: ['/search?*'] });
    expect(scope.contains('https://docs.example.com/search?q=x')).toBe(false);
    expect(scope.contains('https://docs.example.com/search')).toBe(true);
  });
});
