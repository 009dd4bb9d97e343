// Seeds beyond the start page: sitemaps (from robots.txt and /sitemap.xml, following sitemap
// indexes) and /llms.txt, whose Markdown links are the pages a site itself recommends.
import zlib from 'node:zlib';
import { XMLParser } from 'fast-xml-parser';
import type { Fetcher } from './fetcher.ts';
import { parseHttpUrl } from './urls.ts';

const MAX_SITEMAP_DOCUMENTS = 25;

const xml = new XMLParser({
  ignoreAttributes: true,
  removeNSPrefix: true,
  parseTagValue: false,
  isArray: (name) => name === 'url' || name === 'sitemap',
});

/** The page URLs and nested sitemap URLs listed in a sitemap or sitemap index document. */
export function parseSitemap(text: string): { pages: string[]; sitemaps: string[] } {
  let doc: { urlset?: { url?: { loc?: unknown }[] }; sitemapindex?: { sitemap?: { loc?: unknown }[] } };
  try {
    doc = xml.parse(text) as typeof doc;
  } catch {
    return { pages: [], sitemaps: [] };
  }
  const locs = (entries: { loc?: unknown }[] | undefined) =>
    (entries ?? []).map((e) => (typeof e.loc === 'string' ? e.loc.trim() : '')).filter((loc) => loc !== '');
  return { pages: locs(doc.urlset?.url), sitemaps: locs(doc.sitemapindex?.sitemap) };
}

const MARKDOWN_LINK = /\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+["'][^"']*["'])?\s*\)|<(https?:\/\/[^>\s]+)>/g;

/** The targets of Markdown links ([text](url) and <https://...>) resolved against `base`. */
export function parseMarkdownLinks(markdown: string, base: URL): string[] {
  const links: string[] = [];
  for (const match of markdown.matchAll(MARKDOWN_LINK)) {
    const url = parseHttpUrl(match[1] ?? match[2] ?? '', base);
    if (url) links.push(url.href);
  }
  return links;
}

export interface DiscoveryResult {
  /** Candidate page URLs, llms.txt ones first; not yet normalised or scoped. */
  urls: string[];
  notes: string[];
}

export interface DiscoveryOptions {
  fetcher: Fetcher;
  signal: AbortSignal;
  /** The start URL: /llms.txt and /sitemap.xml are looked for at its origin. */
  start: URL;
  /** Sitemap: lines of robots.txt. */
  robotsSitemaps: readonly string[];
  /** Stop collecting once this many URLs are found (the crawl's maxPages). */
  limit: number;
  /** Cap on a gzipped sitemap once unpacked. */
  maxBytes: number;
}

/** Fetches /llms.txt and the sitemaps (following sitemap indexes) and returns the page URLs they list. */
export async function discoverSeeds(options: DiscoveryOptions): Promise<DiscoveryResult> {
  const { fetcher, signal, start } = options;
  const [llms, sitemap] = await Promise.all([
    fetchLlmsTxt(fetcher, signal, start),
    fetchSitemaps(options),
  ]);
  const notes: string[] = [];
  if (llms.length > 0) notes.push(`llms.txt lists ${llms.length} links`);
  if (sitemap.documents > 0) notes.push(`${sitemap.documents} sitemap(s) list ${sitemap.pages.length} pages`);
  return { urls: [...llms, ...sitemap.pages].slice(0, options.limit), notes };
}

async function fetchLlmsTxt(fetcher: Fetcher, signal: AbortSignal, start: URL): Promise<string[]> {
  const url = new URL('/llms.txt', start.origin);
  const outcome = await fetcher.fetch({ url, signal, accept: (type) => type.startsWith('text/') || type === '' });
  if (outcome.kind !== 'ok') return [];
  return parseMarkdownLinks(outcome.body.toString('utf8'), outcome.url);
}

async function fetchSitemaps(options: DiscoveryOptions): Promise<{ pages: string[]; documents: number }> {
  const queue = [...options.robotsSitemaps, new URL('/sitemap.xml', options.start.origin).href];
  const seen = new Set<string>();
  const pages: string[] = [];
  let documents = 0;
  while (queue.length > 0 && seen.size < MAX_SITEMAP_DOCUMENTS && pages.length < options.limit) {
    const url = parseHttpUrl(queue.shift() ?? '');
    if (!url || seen.has(url.href)) continue;
    seen.add(url.href);
    const outcome = await options.fetcher.fetch({ url, signal: options.signal });
    if (outcome.kind !== 'ok') continue;
    const text = sitemapText(outcome.body, options.maxBytes);
    if (text === null) continue;
    const found = parseSitemap(text);
    if (found.pages.length > 0 || found.sitemaps.length > 0) documents++;
    pages.push(...found.pages);
    queue.push(...found.sitemaps);
  }
  return { pages, documents };
}

// sitemap.xml.gz files are served as application/gzip, not with a Content-Encoding.
function sitemapText(body: Buffer, maxBytes: number): string | null {
  if (body[0] !== 0x1f || body[1] !== 0x8b) return body.toString('utf8');
  try {
    return zlib.gunzipSync(body, { maxOutputLength: maxBytes }).toString('utf8');
  } catch {
    return null;
  }
}
