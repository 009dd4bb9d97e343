// Pure URL helpers. A crawl keys its frontier by normalizeUrl() so that one page reached through
// different spellings (fragment, tracking parameters, parameter order, trailing slash) is fetched once.

const TRACKING_PARAMS = new Set([
  'gclid', 'gclsrc', 'dclid', 'gbraid', 'wbraid', 'fbclid', 'msclkid', 'yclid', 'twclid', 'igshid',
  'mc_cid', 'mc_eid', 'ref', 'ref_src', 'ref_url', '_ga', '_gl', '_hsenc', '_hsmi', 'mkt_tok',
  'li_fat_id', 'oly_anon_id', 'oly_enc_id', 'vero_id', 'wickedid', 's_cid',
]);

/** True for query parameters that only track a visit and never change the page. */
export function isTrackingParam(name: string): boolean {
  const lower = name.toLowerCase();
  return lower.startsWith('utm_') || TRACKING_PARAMS.has(lower);
}

/**
 * Resolves `input` against `base` into a fetchable http(s) URL without fragment or credentials;
 * null for anything else (mailto:, javascript:, garbage).
 */
export function parseHttpUrl(input: string, base?: string | URL): URL | null {
  const url = URL.parse(input.trim(), base);
  return url && httpUrl(url);
}

/** `url` itself without fragment or credentials when it is a fetchable http(s) URL (see parseHttpUrl), else null. */
export function httpUrl(url: URL): URL | null {
  if ((url.protocol !== 'http:' && url.protocol !== 'https:') || url.hostname === '') return null;
  // each setter re-serialises the whole URL: only the parts that are there are cleared
  if (url.href.includes('#')) url.hash = '';
  if (url.username !== '') url.username = '';
  if (url.password !== '') url.password = '';
  return url;
}

/** The canonical form of a URL used for de-duplication, or null when it is not a crawlable http(s) URL. */
export function normalizeUrl(input: string, base?: string | URL): string | null {
  const url = parseHttpUrl(input, base);
  return url ? canonicalHref(url) : null;
}

/** The canonical string of an already parsed http(s) URL (see normalizeUrl). */
export function canonicalHref(source: URL): string {
  // most links are canonical already (no fragment, no query, no trailing slash): their href is the key
  const { href, pathname } = source;
  if (!href.includes('?') && !href.includes('#') && !source.hostname.endsWith('.') && (pathname.length <= 1 || !pathname.endsWith('/'))) return href;
  const url = new URL(href);
  // The WHATWG parser already lowercases scheme and host and drops default ports.
  if (url.hostname.endsWith('.')) url.hostname = url.hostname.slice(0, -1);
  url.hash = '';
  url.search = canonicalQuery(url.search);
  if (url.pathname.length > 1 && url.pathname.endsWith('/')) {
    url.pathname = url.pathname.replace(/\/+$/, '') || '/';
  }
  return url.href;
}

// Split by hand rather than through URLSearchParams so the original percent-encoding survives:
// re-encoding ("%20" -> "+") could change what some servers return.
function canonicalQuery(search: string): string {
  if (search.length <= 1) return '';
  const kept = search
    .slice(1)
    .split('&')
    .filter((pair) => pair !== '' && !isTrackingParam(decodeName(pair)));
  if (kept.length === 0) return '';
  // Array.prototype.sort is stable, so repeated keys keep their relative order.
  kept.sort((a, b) => compare(decodeName(a), decodeName(b)));
  return `?${kept.join('&')}`;
}

function decodeName(pair: string): string {
  const name = pair.split('=', 1)[0] ?? '';
  try {
    return decodeURIComponent(name.replace(/\+/g, ' '));
  } catch {
    return name;
  }
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
