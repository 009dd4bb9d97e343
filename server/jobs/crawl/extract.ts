import type { AnyNode, Document, Element, Text } from 'domhandler';
import { textContent } from 'domutils';
import { parseDocument } from 'htmlparser2';
import { parseMarkdownLinks } from './discovery.ts';
import { collapseSpaces, isElement, NEEDS_COLLAPSE, toMarkdown } from './markdown.ts';
import { canonicalHref, httpUrl, parseHttpUrl } from './urls.ts';

/** A link of a page: the URL to fetch and its frontier key (canonicalHref). */
export interface PageLink {
  href: string;
  key: string;
}

/** What a crawl keeps of a page: its title, main content as Markdown, and the links to follow. */
export interface ExtractedPage {
  title: string;
  markdown: string;
  /** Absolute http(s) links found on the page (not yet scoped), in page order, one per frontier key (its first href). */
  links: PageLink[];
  /** <meta name="robots" content="noindex">: do not store the page. */
  noindex: boolean;
  /** <meta name="robots" content="nofollow">: do not follow its links. */
  nofollow: boolean;
  /** <link rel="canonical">, absolute; null when absent. */
  canonical: string | null;
}

// Elements that never hold readable content, or are page chrome wherever they are.
const NOISE_TAGS = new Set([
  'script', 'style', 'noscript', 'template', 'svg', 'canvas', 'iframe', 'form', 'nav', 'aside', 'button', 'select',
  'input', 'textarea', 'dialog', 'object', 'embed', 'map', 'head',
]);
const NOISE_ROLES = new Set(['navigation', 'banner', 'contentinfo', 'search', 'complementary', 'dialog', 'alertdialog']);
// Class and id words of site chrome: navigation bars, breadcrumbs, sidebars, "Previous/Next topic",
// "Show source", edit links, cookie banners (Sphinx, DocBook, MkDocs, Docusaurus and common themes).
const CHROME_WORD =
  /^(?:nav|navbar|navheader|navfooter|navigation|breadcrumbs?|sidebar|sphinxsidebar(?:wrapper)?|related|footer|site-(?:header|footer|nav)|menu|skip-?link|edit-?(?:this-)?page|sourcelink|show-?source|prev-?next|pagination|rst-footer-buttons|headerlink|theme-doc-footer|md-sidebar|md-header|md-footer|toc-sidebar|page-nav)$/i;
const CHROME_ANYWHERE = /cookie|consent|gdpr/i;
const CHROME_LABEL = /breadcrumb|source link|pagination|cookie/i;
const MAIN_SELECTORS: ((el: Element) => boolean)[] = [
  (el) => el.name === 'main',
  (el) => el.attribs.role === 'main',
  (el) => el.name === 'article',
];
/** Share of a container's text that one child must hold for the fallback to narrow to that child. */
const DOMINANT = 0.7;

/** Parses an HTML page once: links (from the whole page, navigation included), title and main content. */
export function extractHtml(html: string, pageUrl: URL): ExtractedPage {
  const doc = parseDocument(html, { decodeEntities: true });
  const found = scan(doc);
  const base = parseHttpUrl(found.baseHref ?? '', pageUrl) ?? pageUrl;
  const robots = metaRobots(found.robots);
  // where each href points, fragment kept: the Markdown's links reuse it instead of parsing it again
  const hrefs = new Map<string, string | null>();
  const links = robots.nofollow ? [] : collectLinks(found.anchors, base, hrefs);
  const title = cleanText(found.title ? textContent(found.title) : '') || cleanText(found.h1 ? textContent(found.h1) : '') || pageUrl.href;
  const canonical = found.canonicalHref ? (parseHttpUrl(found.canonicalHref, base)?.href ?? null) : null;
  const { root, skip } = mainContent(found, doc);
  const markdown = tidyMarkdown(toMarkdown(root, { base, skip, hrefs }));
  return { title, markdown, links, canonical, ...robots };
}

/** A text/plain or text/markdown page, stored as is; Markdown links are followed. */
export function extractText(text: string, mimeType: string, pageUrl: URL): ExtractedPage {
  const markdown = tidyMarkdown(text);
  const isMarkdown = mimeType === 'text/markdown' || mimeType === 'text/x-markdown';
  const heading = isMarkdown ? /^#{1,6}\s+(.+)$/m.exec(markdown)?.[1] : undefined;
  const firstLine = markdown.split('\n').find((line) => line.trim() !== '');
  const title = cleanText(heading ?? firstLine ?? '').slice(0, 200) || pageUrl.href;
  const links = isMarkdown ? linkKeys(parseMarkdownLinks(markdown, pageUrl)) : [];
  return { title, markdown, links, noindex: false, nofollow: false, canonical: null };
}

/**
 * Decodes a body by its byte order mark, else its declared charset (Content-Type), else a <meta
 * charset> or <meta http-equiv> near the top of an HTML page, else UTF-8 (the HTML standard's order).
 */
export function decodeBody(body: Buffer, charset: string | null, isHtml: boolean): string {
  let label = bomCharset(body) ?? charset;
  if (!label && isHtml) {
    const head = body.subarray(0, 1024).toString('latin1');
    label = /<meta[^>]+charset\s*=\s*["']?([\w-]+)/i.exec(head)?.[1] ?? null;
  }
  try {
    return new TextDecoder(label ?? 'utf-8').decode(body);
  } catch {
    return new TextDecoder('utf-8').decode(body);
  }
}

function bomCharset(body: Buffer): string | null {
  if (body[0] === 0xef && body[1] === 0xbb && body[2] === 0xbf) return 'utf-8';
  if (body[0] === 0xff && body[1] === 0xfe) return 'utf-16le';
  if (body[0] === 0xfe && body[1] === 0xff) return 'utf-16be';
  return null;
}

/** True for an element that is page chrome (navigation, sidebars, banners, hidden parts). */
export function isChrome(el: Element): boolean {
  if (NOISE_TAGS.has(el.name)) return true;
  const a = el.attribs;
  if (a.role && NOISE_ROLES.has(a.role)) return true;
  if ('hidden' in a || a['aria-hidden'] === 'true' || (a.style !== undefined && /display\s*:\s*none/i.test(a.style))) return true;
  // headers and footers inside an article hold its title and byline, elsewhere they are site chrome
  if ((el.name === 'header' || el.name === 'footer') && !insideArticle(el)) return true;
  if (a['aria-label'] && CHROME_LABEL.test(a['aria-label'])) return true;
  return (a.class !== undefined && chromeWords(a.class)) || (a.id !== undefined && chromeWords(a.id));
}

// A site repeats a few class and id strings on every element and page: each is judged once (class
// and id apart, so that no string is built to look them up).
const judgedWords = new Map<string, boolean>();
const JUDGED_WORDS_MAX = 10_000;

function chromeWords(words: string): boolean {
  let chrome = judgedWords.get(words);
  if (chrome === undefined) {
    chrome = CHROME_ANYWHERE.test(words) || words.split(/\s+/).some((word) => CHROME_WORD.test(word));
    if (judgedWords.size >= JUDGED_WORDS_MAX) judgedWords.clear();
    judgedWords.set(words, chrome);
  }
  return chrome;
}

function insideArticle(el: Element): boolean {
  for (let p = el.parent; p; p = p.parent) if (p.type === 'tag' && ((p as Element).name === 'article' || (p as Element).name === 'main')) return true;
  return false;
}

interface Scan {
  title: Element | null;
  h1: Element | null;
  body: Element | null;
  baseHref: string | null;
  canonicalHref: string | null;
  robots: string;
  anchors: Element[];
  /** Elements matching each MAIN_SELECTORS entry, in the same order. */
  mains: Element[][];
}

/** One walk over the tree collects everything extraction needs (instead of one query per selector). */
function scan(doc: Document): Scan {
  const found: Scan = { title: null, h1: null, body: null, baseHref: null, canonicalHref: null, robots: '', anchors: [], mains: MAIN_SELECTORS.map(() => []) };
  const visit = (nodes: AnyNode[]) => {
    for (const node of nodes) {
      if (node.type !== 'tag') continue;
      const el = node as Element;
      const a = el.attribs;
      switch (el.name) {
        case 'a':
          if (a.href !== undefined) found.anchors.push(el);
          break;
        case 'title':
          found.title ??= el;
          break;
        case 'h1':
          found.h1 ??= el;
          break;
        case 'body':
          found.body ??= el;
          break;
        case 'base':
          if (a.href !== undefined) found.baseHref ??= a.href;
          break;
        case 'link':
          if (a.href && /(?:^|\s)canonical(?:\s|$)/i.test(a.rel ?? '')) found.canonicalHref ??= a.href;
          break;
        case 'meta':
          if ((a.name ?? '').toLowerCase() === 'robots') found.robots += ` ${(a.content ?? '').toLowerCase()}`;
          break;
      }
      MAIN_SELECTORS.forEach((matches, i) => matches(el) && found.mains[i]!.push(el));
      visit(el.children);
    }
  };
  visit(doc.children);
  return found;
}

/**
 * The single main element (main, [role=main], article), else the dominant block of the body; with
 * what to leave out of it (page chrome).
 */
function mainContent(found: Scan, doc: Document): { root: AnyNode; skip: (el: Element) => boolean } {
  for (const matches of found.mains) if (matches.length === 1) return { root: matches[0]!, skip: isChrome };
  return dominantBlock(found.body ?? doc);
}

/**
 * Without a main element, narrows from the body to the child that holds most of the readable text
 * (text outside links and chrome: a menu of links weighs nothing), as long as one child holds most
 * of it and no top heading is left outside. Like Readability's scoring, but on the parsed tree.
 */
function dominantBlock(root: AnyNode): { root: AnyNode; skip: (el: Element) => boolean } {
  // only elements are looked up (and the root): text nodes are weighed but not kept
  const weights = new Map<AnyNode, number>();
  // Every element the Markdown walk can reach is judged here first: it looks the answer up.
  const chrome = new Set<Element>();
  const weigh = (nodes: AnyNode[], inLink: boolean): number => {
    let sum = 0;
    for (const node of nodes) {
      if (node.type === 'text') {
        if (!inLink) sum += collapsedLength((node as Text).data);
      } else if (isElement(node)) {
        let w = 0;
        if (isChrome(node)) chrome.add(node);
        else w = weigh(node.children, inLink || node.name === 'a');
        weights.set(node, w);
        sum += w;
      } else if ('children' in node) sum += weigh(node.children, inLink);
    }
    return sum;
  };
  if ((root.type === 'tag' && isChrome(root as Element)) || !('children' in root)) return { root, skip: isChrome };
  const total = weigh(root.children, false);
  weights.set(root, total);
  let node: AnyNode = root;
  while ('children' in node && total > 0) {
    const current = weights.get(node) ?? 0;
    let best: AnyNode | null = null;
    for (const child of node.children) if (child.type === 'tag' && (weights.get(child) ?? 0) > (best ? (weights.get(best) ?? 0) : 0)) best = child;
    if (!best || (weights.get(best) ?? 0) < DOMINANT * current) break;
    const headingOutside = node.children.some((c) => c !== best && c.type === 'tag' && !isChrome(c as Element) && hasTopHeading(c as Element));
    if (headingOutside) break;
    node = best;
  }
  return { root: node, skip: (el) => chrome.has(el) };
}

function hasTopHeading(el: Element): boolean {
  if (el.name === 'h1' || el.name === 'h2') return true;
  return el.children.some((c) => c.type === 'tag' && hasTopHeading(c as Element));
}

/**
 * The page's links (see ExtractedPage.links), each parsed once; `hrefs` is given what each href
 * resolves to (absoluteHref's answer), for the Markdown's links.
 */
function collectLinks(anchors: Element[], base: URL, hrefs: Map<string, string | null>): PageLink[] {
  const links = new Map<string, PageLink>();
  for (const el of anchors) {
    if (/\bnofollow\b/i.test(el.attribs.rel ?? '')) continue;
    const href = el.attribs.href ?? '';
    const parsed = URL.parse(href.trim(), base);
    hrefs.set(href, parsed && (parsed.protocol === 'http:' || parsed.protocol === 'https:') ? parsed.href : null);
    const url = parsed && httpUrl(parsed);
    if (url) addLink(links, url);
  }
  return [...links.values()];
}

/** Absolute hrefs as links (see ExtractedPage.links). */
function linkKeys(hrefs: readonly string[]): PageLink[] {
  const links = new Map<string, PageLink>();
  for (const href of hrefs) {
    const url = parseHttpUrl(href);
    if (url) addLink(links, url);
  }
  return [...links.values()];
}

function addLink(links: Map<string, PageLink>, url: URL): void {
  const key = canonicalHref(url);
  if (!links.has(key)) links.set(key, { href: url.href, key });
}

function metaRobots(content: string): { noindex: boolean; nofollow: boolean } {
  const none = /\bnone\b/.test(content);
  return { noindex: none || /\bnoindex\b/.test(content), nofollow: none || /\bnofollow\b/.test(content) };
}

/** The length of `text` with its whitespace runs collapsed to one space and trimmed (cleanText's), without building it. */
export function collapsedLength(text: string): number {
  // most text has no whitespace run to collapse: trim and a regular expression (native code) answer it
  // at a fraction of the cost of reading it a character at a time (text nodes are often cons strings)
  const trimmed = text.trim();
  if (!NEEDS_COLLAPSE.test(trimmed)) return trimmed.length;
  let length = 0;
  let gap = false;
  for (let i = 0; i < text.length; i++) {
    if (isSpace(text.charCodeAt(i))) gap = length > 0;
    else {
      length += gap ? 2 : 1;
      gap = false;
    }
  }
  return length;
}

/** The characters \s matches in a JavaScript regular expression. */
function isSpace(c: number): boolean {
  if (c <= 0x20) return c === 0x20 || (c >= 0x09 && c <= 0x0d);
  if (c < 0xa0) return false;
  return c === 0xa0 || c === 0x1680 || (c >= 0x2000 && c <= 0x200a) || c === 0x2028 || c === 0x2029 || c === 0x202f || c === 0x205f || c === 0x3000 || c === 0xfeff;
}

function cleanText(text: string): string {
  return collapseSpaces(text).trim();
}

function tidyMarkdown(markdown: string): string {
  // each pass runs only when a plain search (far cheaper than the expression) finds its case
  let text = markdown.includes('\r') ? markdown.replace(/\r\n?/g, '\n') : markdown;
  if (text.includes('\t') || text.includes(' \n') || text.endsWith(' ') || text.includes('\u2028') || text.includes('\u2029')) text = text.replace(/[ \t]+$/gm, '');
  if (text.includes('\n\n\n')) text = text.replace(/\n{3,}/g, '\n\n');
  return text.trim();
}
