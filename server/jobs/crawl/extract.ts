import { load, type CheerioAPI } from 'cheerio';
import TurndownService from 'turndown';
import { parseMarkdownLinks } from './discovery.ts';
import { parseHttpUrl } from './urls.ts';

/** What a crawl keeps of a page: its title, main content as Markdown, and the links to follow. */
export interface ExtractedPage {
  title: string;
  markdown: string;
  /** Absolute http(s) links found on the page (not yet normalised or scoped), without duplicates. */
  links: string[];
  /** <meta name="robots" content="noindex">: do not store the page. */
  noindex: boolean;
  /** <meta name="robots" content="nofollow">: do not follow its links. */
  nofollow: boolean;
}

// Page chrome and things that never hold readable content.
const NOISE = 'script, style, noscript, template, svg, canvas, iframe, form, nav, aside, [role="navigation"]';
const MAIN = ['main', '[role="main"]', 'article'];

const turndown = new TurndownService({
  headingStyle: 'atx',
  codeBlockStyle: 'fenced',
  bulletListMarker: '-',
  emDelimiter: '_',
});
turndown.addRule('image', {
  filter: 'img',
  // data: URIs would bloat the knowledge base with base64; an image without alt text says nothing
  replacement: (_content, node) => {
    const element = node as HTMLElement;
    const alt = element.getAttribute('alt')?.trim() ?? '';
    const src = element.getAttribute('src') ?? '';
    return alt && !src.startsWith('data:') ? `![${alt}](${src})` : '';
  },
});

/** Parses an HTML page once: links (from the whole page, navigation included), title and main content. */
export function extractHtml(html: string, pageUrl: URL): ExtractedPage {
  // htmlparser2 (xmlMode off) instead of parse5: several times faster, and lenient enough for extraction
  const $ = load(html, { xml: { xmlMode: false, decodeEntities: true } });
  const base = parseHttpUrl($('base[href]').first().attr('href') ?? '', pageUrl) ?? pageUrl;
  const robots = metaRobots($);
  const links = robots.nofollow ? [] : collectLinks($, base);
  const title = cleanText($('title').first().text()) || cleanText($('h1').first().text()) || pageUrl.href;

  const root = mainContent($);
  root.find(NOISE).remove();
  // headers and footers inside an article hold its title and byline, elsewhere they are site chrome
  root.find('header, footer').filter((_, el) => $(el).closest('article').length === 0).remove();
  absolutize($, root, base);
  const markdown = tidyMarkdown(turndown.turndown(root.html() ?? ''));
  return { title, markdown, links, ...robots };
}

/** A text/plain or text/markdown page, stored as is; Markdown links are followed. */
export function extractText(text: string, mimeType: string, pageUrl: URL): ExtractedPage {
  const markdown = tidyMarkdown(text);
  const isMarkdown = mimeType === 'text/markdown' || mimeType === 'text/x-markdown';
  const heading = isMarkdown ? /^#{1,6}\s+(.+)$/m.exec(markdown)?.[1] : undefined;
  const firstLine = markdown.split('\n').find((line) => line.trim() !== '');
  const title = cleanText(heading ?? firstLine ?? '').slice(0, 200) || pageUrl.href;
  const links = isMarkdown ? [...new Set(parseMarkdownLinks(markdown, pageUrl))] : [];
  return { title, markdown, links, noindex: false, nofollow: false };
}

/** Decodes a body by its declared charset, else a <meta charset> near the top of an HTML page, else UTF-8. */
export function decodeBody(body: Buffer, charset: string | null, isHtml: boolean): string {
  let label = charset;
  if (!label && isHtml) {
    const head = body.subarray(0, 1024).toString('latin1');
    label = /<meta[^>]+charset\s*=\s*["']?([\w-]+)/i.exec(head)?.[1] ?? null;
  }
  try {
    return new TextDecoder(label ?? 'utf-8').decode(body);
  } catch {
    return body.toString('utf8');
  }
}

function mainContent($: CheerioAPI) {
  for (const selector of MAIN) {
    const found = $(selector);
    if (found.length === 1) return found.first();
  }
  const body = $('body');
  return body.length > 0 ? body : $.root();
}

function collectLinks($: CheerioAPI, base: URL): string[] {
  const links = new Set<string>();
  $('a[href]').each((_, el) => {
    const rel = $(el).attr('rel') ?? '';
    if (/\bnofollow\b/i.test(rel)) return;
    const url = parseHttpUrl($(el).attr('href') ?? '', base);
    if (url) links.add(url.href);
  });
  return [...links];
}

function metaRobots($: CheerioAPI): { noindex: boolean; nofollow: boolean } {
  let content = '';
  $('meta[name]').each((_, el) => {
    if (($(el).attr('name') ?? '').toLowerCase() === 'robots') content += ` ${($(el).attr('content') ?? '').toLowerCase()}`;
  });
  const none = /\bnone\b/.test(content);
  return { noindex: none || /\bnoindex\b/.test(content), nofollow: none || /\bnofollow\b/.test(content) };
}

// Relative links in stored Markdown would be meaningless once read away from the page.
function absolutize($: CheerioAPI, root: ReturnType<CheerioAPI>, base: URL): void {
  root.find('a[href], img[src]').each((_, el) => {
    const attr = el.tagName === 'img' ? 'src' : 'href';
    const value = $(el).attr(attr) ?? '';
    const url = URL.parse(value, base);
    if (url && (url.protocol === 'http:' || url.protocol === 'https:')) $(el).attr(attr, url.href);
  });
}

function cleanText(text: string): string {
  return text.replace(/\s+/g, ' ').trim();
}

function tidyMarkdown(markdown: string): string {
  return markdown
    .replace(/\r\n?/g, '\n')
    .replace(/[ \t]+$/gm, '')
    .replace(/\n{3,}/g, '\n\n')
    .trim();
}
