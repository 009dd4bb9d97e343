import picomatch from 'picomatch';
import { InputError } from '../../lib/errors.ts';
import { normalizeUrl } from './urls.ts';

/** Bounds and tunables of a crawl; the engine config may override them, the user input may not. */
export interface CrawlLimits {
  defaultMaxDepth: number;
  defaultMaxPages: number;
  maxDepthCap: number;
  maxPagesCap: number;
  maxPatterns: number;
  maxPatternLength: number;
  maxUrlLength: number;
  requestTimeoutMs: number;
  maxBodyBytes: number;
  maxRedirects: number;
  /** Requests in flight at once for one crawl (all hosts together). */
  concurrency: number;
  /** A crawl stops scheduling new pages after this long and ends normally. */
  maxDurationMs: number;
  maxRetries: number;
  retryBaseDelayMs: number;
  /** Longest Retry-After (and Crawl-delay) we wait for; longer ones are clamped. */
  maxRetryAfterMs: number;
}

export const DEFAULT_CRAWL_LIMITS: Readonly<CrawlLimits> = Object.freeze({
  defaultMaxDepth: 2,
  defaultMaxPages: 100,
  maxDepthCap: 20,
  maxPagesCap: 10_000,
  maxPatterns: 50,
  maxPatternLength: 500,
  maxUrlLength: 2048,
  requestTimeoutMs: 15_000,
  maxBodyBytes: 5 * 1024 * 1024,
  maxRedirects: 5,
  concurrency: 8,
  maxDurationMs: 60 * 60 * 1000,
  maxRetries: 2,
  retryBaseDelayMs: 500,
  maxRetryAfterMs: 30_000,
});

/** The crawl caps an operator sets (SLUICE_CRAWL_*), as the server config holds them. */
export interface CrawlCaps {
  crawlMaxPages: number;
  crawlMaxDepth: number;
  crawlMaxBodyBytes: number;
  crawlMaxRedirects: number;
  crawlMaxDurationMs: number;
  crawlTimeoutMs: number;
}

/** The limits of this server: DEFAULT_CRAWL_LIMITS with the operator's caps (SLUICE_CRAWL_*). */
export function crawlLimits(caps: CrawlCaps): CrawlLimits {
  return {
    ...DEFAULT_CRAWL_LIMITS,
    maxPagesCap: caps.crawlMaxPages,
    defaultMaxPages: Math.min(DEFAULT_CRAWL_LIMITS.defaultMaxPages, caps.crawlMaxPages),
    maxDepthCap: caps.crawlMaxDepth,
    defaultMaxDepth: Math.min(DEFAULT_CRAWL_LIMITS.defaultMaxDepth, caps.crawlMaxDepth),
    maxBodyBytes: caps.crawlMaxBodyBytes,
    maxRedirects: caps.crawlMaxRedirects,
    maxDurationMs: caps.crawlMaxDurationMs,
    requestTimeoutMs: caps.crawlTimeoutMs,
  };
}

/** StartCrawlInput as it arrives from GraphQL (nullable optional fields). */
export interface StartCrawlInputRaw {
  url: string;
  maxDepth?: number | null;
  maxPages?: number | null;
  includePatterns?: readonly string[] | null;
  excludePatterns?: readonly string[] | null;
  respectRobotsTxt?: boolean | null;
  sessionId?: string | null;
  timeLimitSeconds?: number | null;
}

/** A validated crawl request; plain JSON so the engine can persist it and hand it back on resume. */
export interface CrawlInput {
  /** The normalised start URL. */
  url: string;
  maxDepth: number;
  maxPages: number;
  includePatterns: string[];
  excludePatterns: string[];
  respectRobotsTxt: boolean;
  sessionId: string | null;
  /** maxDurationMs is the caller's own time limit when given (within the operator's cap), counted across attempts. */
  limits: CrawlLimits;
  /** The caller set the time limit (timeLimitSeconds), rather than the operator's cap applying. */
  timeLimited?: boolean;
}

/** Validates StartCrawlInput and applies defaults; throws BAD_USER_INPUT naming the field. */
export function parseCrawlInput(raw: StartCrawlInputRaw, limits: CrawlLimits = DEFAULT_CRAWL_LIMITS): CrawlInput {
  return {
    url: parseStartUrl(raw.url, limits),
    maxDepth: parseInteger(raw.maxDepth, 'maxDepth', limits.defaultMaxDepth, 0, limits.maxDepthCap),
    maxPages: parseInteger(raw.maxPages, 'maxPages', limits.defaultMaxPages, 1, limits.maxPagesCap),
    includePatterns: parsePatterns(raw.includePatterns, 'includePatterns', limits),
    excludePatterns: parsePatterns(raw.excludePatterns, 'excludePatterns', limits),
    respectRobotsTxt: parseBoolean(raw.respectRobotsTxt, 'respectRobotsTxt', true),
    sessionId: parseSessionId(raw.sessionId),
    ...parseTimeLimit(raw.timeLimitSeconds, limits),
  };
}

/** timeLimitSeconds: 1 s up to the operator's cap (SLUICE_CRAWL_MAX_DURATION_MS); without it, the cap. */
function parseTimeLimit(value: unknown, limits: CrawlLimits): { limits: CrawlLimits; timeLimited?: boolean } {
  if (value === undefined || value === null) return { limits: { ...limits } };
  const cap = Math.max(1, Math.floor(limits.maxDurationMs / 1000));
  const seconds = parseInteger(value, 'timeLimitSeconds', cap, 1, cap);
  return { limits: { ...limits, maxDurationMs: seconds * 1000 }, timeLimited: true };
}

function parseStartUrl(value: unknown, limits: CrawlLimits): string {
  if (typeof value !== 'string' || value.trim() === '') {
    throw new InputError('url is required: give the page to start from, e.g. https://docs.example.com/', 'url');
  }
  const url = value.trim();
  if (url.length > limits.maxUrlLength) {
    throw new InputError(`url is too long (${url.length} characters); use at most ${limits.maxUrlLength}`, 'url');
  }
  if (!/^https?:\/\//i.test(url)) {
    throw new InputError('url must start with http:// or https://', 'url');
  }
  const parsed = URL.parse(url);
  if (!parsed || parsed.hostname === '') {
    throw new InputError(`url is not a valid address: ${url}`, 'url');
  }
  if (parsed.username !== '' || parsed.password !== '') {
    throw new InputError('url must not contain a user name or password; remove the "user:pass@" part', 'url');
  }
  const normalized = normalizeUrl(parsed.href);
  if (normalized === null) throw new InputError(`url is not a valid address: ${url}`, 'url');
  return normalized;
}

function parseInteger(value: unknown, field: string, fallback: number, min: number, max: number): number {
  if (value === undefined || value === null) return fallback;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    throw new InputError(`${field} must be between ${min} and ${max} (got ${String(value)})`, field);
  }
  return value;
}

function parseBoolean(value: unknown, field: string, fallback: boolean): boolean {
  if (value === undefined || value === null) return fallback;
  if (typeof value !== 'boolean') throw new InputError(`${field} must be true or false`, field);
  return value;
}

function parseSessionId(value: unknown): string | null {
  if (value === undefined || value === null) return null;
  if (typeof value !== 'string' || value.length === 0 || value.length > 200) {
    throw new InputError('sessionId must be a non-empty string of at most 200 characters', 'sessionId');
  }
  return value;
}

function parsePatterns(value: unknown, field: string, limits: CrawlLimits): string[] {
  if (value === undefined || value === null) return [];
  if (!Array.isArray(value)) throw new InputError(`${field} must be a list of URL globs`, field);
  if (value.length > limits.maxPatterns) {
    throw new InputError(`${field} has ${value.length} patterns; give at most ${limits.maxPatterns}`, field);
  }
  return value.map((pattern: unknown) => {
    if (typeof pattern !== 'string' || pattern.trim() === '') {
      throw new InputError(`${field} must not contain empty patterns`, field);
    }
    if (pattern.length > limits.maxPatternLength) {
      throw new InputError(`${field}: a pattern is ${pattern.length} characters long; use at most ${limits.maxPatternLength}`, field);
    }
    try {
      picomatch.makeRe(pattern);
    } catch {
      throw new InputError(`${field}: "${pattern}" is not a valid glob, e.g. https://example.com/docs/** or /blog/**`, field);
    }
    return pattern.trim();
  });
}
