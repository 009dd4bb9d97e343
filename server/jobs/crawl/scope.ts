import picomatch from 'picomatch';

/** Decides whether a normalised URL belongs to a crawl. */
export interface Scope {
  contains(normalizedUrl: string): boolean;
  /** Widens the default same-host scope, e.g. to where the start URL redirects (http://a -> https://www.a). */
  addHost(host: string): void;
}

export interface ScopeOptions {
  startUrl: string;
  includePatterns: readonly string[];
  excludePatterns: readonly string[];
}

/**
 * Builds the crawl scope: the start URL's host unless include patterns are given (then a URL must
 * match one of them, on any host), and never a URL matching an exclude pattern.
 * A pattern starting with "/" is matched against the path and query only ("/blog/**"); any other
 * pattern against the whole normalised URL ("https://docs.example.com/**").
 */
export function createScope(options: ScopeOptions): Scope {
  const hosts = new Set([new URL(options.startUrl).host]);
  const include = compile(options.includePatterns);
  const exclude = compile(options.excludePatterns);
  return {
    contains(normalizedUrl) {
      const url = URL.parse(normalizedUrl);
      if (!url) return false;
      const inScope = include ? include(url) : hosts.has(url.host);
      return inScope && !(exclude?.(url) ?? false);
    },
    addHost(host) {
      hosts.add(host);
    },
  };
}

function compile(patterns: readonly string[]): ((url: URL) => boolean) | null {
  if (patterns.length === 0) return null;
  const pathGlobs = patterns.filter((p) => p.startsWith('/'));
  const urlGlobs = patterns.filter((p) => !p.startsWith('/'));
  // dot: a path segment such as ".well-known" is still matched by "*".
  const matchPath = pathGlobs.length > 0 ? picomatch(pathGlobs, { dot: true }) : null;
  const matchUrl = urlGlobs.length > 0 ? picomatch(urlGlobs, { dot: true }) : null;
  return (url) =>
    (matchUrl?.(url.href) ?? false) || (matchPath?.(url.pathname + url.search) ?? false);
}
