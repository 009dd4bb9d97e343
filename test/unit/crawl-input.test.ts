import { describe, expect, it } from 'vitest';
import { InputError } from '../../server/lib/errors.ts';
import { DEFAULT_CRAWL_LIMITS, parseCrawlInput, type StartCrawlInputRaw } from '../../server/jobs/crawl/input.ts';

describe('parseCrawlInput', () => {
  it('applies defaults and normalises the URL', () => {
    expect(parseCrawlInput({ url: ' HTTPS://Docs.Example.com/guide/#top ' }, DEFAULT_CRAWL_LIMITS)).toEqual({
      url: 'https://docs.example.com/guide',
      maxDepth: 2,
      maxPages: 100,
      includePatterns: [],
      excludePatterns: [],
      respectRobotsTxt: true,
      sessionId: null,
      limits: { ...DEFAULT_CRAWL_LIMITS },
    });
  });

  it('keeps valid values', () => {
    const input = parseCrawlInput(
      { url: 'http://a.example', maxDepth: 0, maxPages: 10_000, includePatterns: ['/docs/**'], excludePatterns: null, respectRobotsTxt: false, sessionId: 's1' },
      DEFAULT_CRAWL_LIMITS,
    );
    expect(input).toMatchObject({ maxDepth: 0, maxPages: 10_000, includePatterns: ['/docs/**'], respectRobotsTxt: false, sessionId: 's1' });
  });

  const bad: [string, Partial<StartCrawlInputRaw>, RegExp][] = [
    ['url', { url: '' }, /url is required/],
    ['url', { url: 'ftp://example.com' }, /url must start with http:\/\/ or https:\/\//],
    ['url', { url: 'example.com' }, /url must start with http:\/\/ or https:\/\//],
    ['url', { url: `https://example.com/${'a'.repeat(2100)}` }, /at most 2048/],
    ['url', { url: 'https://user:pw@example.com/' }, /user name or password/],
    ['url', { url: 'http://exa mple.com' }, /not a valid address/],
    ['maxPages', { maxPages: 0 }, /maxPages must be between 1 and 10000/],
    ['maxPages', { maxPages: 10_001 }, /maxPages must be between 1 and 10000/],
    ['maxPages', { maxPages: 2.5 }, /maxPages must be between/],
    ['maxDepth', { maxDepth: -1 }, /maxDepth must be between 0 and 20/],
    ['maxDepth', { maxDepth: 21 }, /maxDepth must be between 0 and 20/],
    ['includePatterns', { includePatterns: Array.from({ length: 51 }, () => '/a') }, /at most 50/],
    ['excludePatterns', { excludePatterns: ['x'.repeat(501)] }, /at most 500/],
    ['excludePatterns', { excludePatterns: [' '] }, /empty patterns/],
    ['sessionId', { sessionId: '' }, /sessionId/],
  ];

  it.each(bad)('rejects a bad %s with BAD_USER_INPUT naming the field', (field, patch, message) => {
    const raw = { url: 'https://example.com/', ...patch } as StartCrawlInputRaw;
    let error: unknown;
    try {
      parseCrawlInput(raw, DEFAULT_CRAWL_LIMITS);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(InputError);
    expect(error).toMatchObject({ message: expect.stringMatching(message), code: 'BAD_USER_INPUT', field });
  });

  it('honours lower limits given by the server', () => {
    expect(() => parseCrawlInput({ url: 'https://example.com', maxPages: 500 }, { ...DEFAULT_CRAWL_LIMITS, maxPagesCap: 100 })).toThrow(
      /maxPages must be between 1 and 100/,
    );
  });
});
