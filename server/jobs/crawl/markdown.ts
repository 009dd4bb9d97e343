// HTML -> Markdown from the tree htmlparser2 already built for extraction, so a page is parsed once.
// turndown needs a W3C DOM and so parses the HTML a second time with domino: on the PostgreSQL
// manual that second parse and its walk cost 7.8 ms a page against 0.3 ms for htmlparser2's parse
// (bench:crawl-real). This walks domhandler nodes directly and writes CommonMark with GFM tables
// and fenced code blocks that keep their language.
import type { AnyNode, Element } from 'domhandler';
import { textContent } from 'domutils';

/** What the walk needs to know beyond the tree. */
export interface MarkdownOptions {
  /** Links and images are made absolute against this. */
  base: URL;
  /** Elements to leave out with everything inside them (page chrome). */
  skip: (element: Element) => boolean;
  /** What hrefs already resolved resolve to (absoluteHref's answers), so that they are not parsed again. */
  hrefs?: ReadonlyMap<string, string | null>;
}

const BLOCK = new Set([
  'address', 'article', 'aside', 'blockquote', 'body', 'center', 'dd', 'details', 'dialog', 'dir', 'div', 'dl', 'dt',
  'fieldset', 'figcaption', 'figure', 'footer', 'form', 'h1', 'h2', 'h3', 'h4', 'h5', 'h6', 'header', 'hgroup', 'hr',
  'html', 'legend', 'li', 'main', 'menu', 'nav', 'ol', 'p', 'pre', 'section', 'summary', 'table', 'tbody', 'td',
  'tfoot', 'th', 'thead', 'tr', 'ul', 'caption',
]);
const HEADING = /^h([1-6])$/;
const LANGUAGE = /(?:^|\s)(?:language|lang|highlight|brush|sourceCode)[-:]\s*([\w+#.-]+)/i;
// A header link that only points at its own heading ("¶", "#", "Permalink to this definition").
const PERMALINK_TEXT = /^(?:¶|#|§|🔗|link|permalink)$/i;
const PERMALINK_TITLE = /permalink|link to this/i;

/** Markdown of `root`'s content. */
export function toMarkdown(root: AnyNode, options: MarkdownOptions): string {
  return new Writer(options).blocks(children(root)).join('\n\n');
}

function children(node: AnyNode): AnyNode[] {
  return 'children' in node ? node.children : [];
}

/** An element node (htmlparser2 gives script and style their own node types). */
export function isElement(node: AnyNode): node is Element {
  return node.type === 'tag' || node.type === 'script' || node.type === 'style';
}

class Writer {
  constructor(private readonly options: MarkdownOptions) {}

  /** Block-level Markdown of a run of sibling nodes: inline runs become paragraphs. */
  blocks(nodes: AnyNode[]): string[] {
    const out: string[] = [];
    let inline = '';
    const flush = () => {
      if (inline === '') return;
      // most runs hold neither a line break nor a double space: no regular expression runs on them
      let text = inline.includes('\n') ? inline.replace(/[ \t]*\n[ \t]*/g, '\n') : inline;
      if (text.includes('  ')) text = text.replace(/ {2,}/g, ' ');
      text = text.trim();
      if (text) out.push(escapeLineStarts(text));
      inline = '';
    };
    for (const node of nodes) {
      if (node.type === 'text') inline += collapseSpaces(node.data);
      else if (isElement(node) && !this.options.skip(node)) {
        if (BLOCK.has(node.name)) {
          flush();
          out.push(...this.block(node));
        } else {
          inline += this.inline(node);
        }
      }
    }
    flush();
    return out;
  }

  private block(el: Element): string[] {
    const name = el.name;
    const level = HEADING.exec(name);
    if (level) {
      const text = collapseSpaces(this.inlineOf(el)).trim();
      return text ? [`${'#'.repeat(Number(level[1]))} ${text}`] : [];
    }
    switch (name) {
      case 'pre':
        return [this.code(el)];
      case 'ul':
      case 'ol':
      case 'menu':
      case 'dir':
        return this.list(el, name === 'ol' ? Number(el.attribs.start ?? 1) || 1 : null);
      case 'blockquote': {
        const inner = this.blocks(el.children).join('\n\n');
        return inner ? [inner.replace(/^/gm, '> ').replace(/^> $/gm, '>')] : [];
      }
      case 'table':
        return this.table(el);
      case 'dt': {
        const text = collapseSpaces(this.inlineOf(el)).trim();
        return text ? [text.startsWith('**') ? text : `**${text}**`] : [];
      }
      case 'hr':
        return ['---'];
      default:
        return this.blocks(el.children);
    }
  }

  private code(pre: Element): string {
    const text = textContent(pre).replace(/\r\n?/g, '\n').replace(/^\n+|\s+$/g, '');
    const code = pre.children.find((c): c is Element => isElement(c) && c.name === 'code');
    const language = languageOf(code) ?? languageOf(pre) ?? languageOf(pre.parent) ?? languageOf(pre.parent?.parent ?? null) ?? '';
    let fence = '```';
    while (text.includes(fence)) fence += '`';
    return `${fence}${language}\n${text}\n${fence}`;
  }

  private list(el: Element, start: number | null): string[] {
    const items: string[] = [];
    let n = start ?? 0;
    for (const child of el.children) {
      if (!isElement(child) || this.options.skip(child)) continue;
      // stray text or a nested list right inside <ul> belongs to the list anyway
      const content = (child.name === 'li' ? this.blocks(child.children) : this.block(child)).join('\n\n');
      if (!content) continue;
      const marker = start === null ? '- ' : `${n++}. `;
      items.push(marker + content.replace(/\n/g, `\n${' '.repeat(marker.length)}`).replace(/\n +\n/g, '\n\n'));
    }
    return items.length ? [items.join('\n')] : [];
  }

  private table(table: Element): string[] {
    const rows: Element[] = [];
    const collect = (node: Element) => {
      for (const child of node.children) {
        if (!isElement(child)) continue;
        if (child.name === 'tr') rows.push(child);
        else if (child.name === 'thead' || child.name === 'tbody' || child.name === 'tfoot') collect(child);
      }
    };
    collect(table);
    const cells = rows.map((row) => row.children.filter((c): c is Element => isElement(c) && (c.name === 'td' || c.name === 'th')));
    const width = Math.max(0, ...cells.map((r) => r.length));
    // a layout table, or one whose cells hold code or lists, reads better as blocks than squeezed into cells
    const complex = cells.some((r) => r.some((c) => hasAny(c, ['pre', 'table', 'ul', 'ol'])));
    if (width < 2 || complex) {
      const caption = table.children.find((c): c is Element => isElement(c) && c.name === 'caption');
      return [...(caption ? this.blocks(caption.children) : []), ...cells.flatMap((r) => r.flatMap((c) => this.blocks(c.children)))];
    }
    const line = (row: Element[]) => {
      const texts = row.map((c) => this.blocks(c.children).join(' ').replace(/\s+/g, ' ').replace(/\|/g, '\\|').trim());
      while (texts.length < width) texts.push('');
      return `| ${texts.join(' | ')} |`;
    };
    const [head = [], ...body] = cells;
    const caption = table.children.find((c): c is Element => isElement(c) && c.name === 'caption');
    const out = [line(head), `|${' --- |'.repeat(width)}`, ...body.map(line)].join('\n');
    return caption ? [...this.blocks(caption.children), out] : [out];
  }

  private inlineOf(el: Element): string {
    let out = '';
    for (const child of el.children) {
      if (child.type === 'text') out += collapseSpaces(child.data);
      else if (isElement(child) && !this.options.skip(child)) out += this.inline(child);
    }
    return out;
  }

  private inline(el: Element): string {
    switch (el.name) {
      case 'br':
        return '\n';
      case 'img':
        return this.image(el);
      case 'a':
        return this.link(el);
      case 'code':
      case 'tt':
      case 'kbd':
      case 'samp':
        return codeSpan(textContent(el));
      case 'strong':
      case 'b':
        return wrap(this.inlineOf(el), '**');
      case 'em':
      case 'i':
      case 'cite':
        return wrap(this.inlineOf(el), '_');
      case 'script':
      case 'style':
      case 'noscript':
      case 'template':
        return '';
      default:
        // block elements met inside inline ones (a <div> in an <a>) are read inline
        return BLOCK.has(el.name) ? ` ${this.inlineOf(el)} ` : this.inlineOf(el);
    }
  }

  private link(a: Element): string {
    const text = this.inlineOf(a);
    const label = collapseSpaces(text).trim();
    const href = a.attribs.href ?? '';
    if (isPermalink(a, label, href)) return '';
    if (!label) return '';
    if (!href || href.startsWith('#') || /^javascript:/i.test(href)) return text;
    const known = this.options.hrefs?.get(href);
    const url = known !== undefined ? known : absoluteHref(href, this.options.base);
    if (!url) return text;
    const lead = /^\s/.test(text) ? ' ' : '';
    const trail = /\s$/.test(text) ? ' ' : '';
    return `${lead}[${label.replace(/([[\]])/g, '\\$1')}](${url.replace(/[()\s]/g, encodeURIComponent)})${trail}`;
  }

  private image(img: Element): string {
    // data: URIs would bloat the knowledge base with base64; an image without alt text says nothing
    const alt = (img.attribs.alt ?? '').replace(/\s+/g, ' ').trim();
    const src = img.attribs.src ?? '';
    if (!alt || src.startsWith('data:')) return '';
    const url = absoluteHref(src, this.options.base);
    return url ? `![${alt.replace(/([[\]])/g, '\\$1')}](${url.replace(/[()\s]/g, encodeURIComponent)})` : '';
  }
}

function isPermalink(a: Element, label: string, href: string): boolean {
  if (/\bheaderlink\b|\banchor(?:-link|js)?\b|\bpermalink\b/.test(a.attribs.class ?? '')) return true;
  if (PERMALINK_TITLE.test(a.attribs.title ?? '') || PERMALINK_TITLE.test(a.attribs['aria-label'] ?? '')) return true;
  return href.startsWith('#') && PERMALINK_TEXT.test(label);
}

function languageOf(el: AnyNode | null | undefined): string | null {
  if (!el || !isElement(el)) return null;
  const declared = el.attribs['data-lang'] ?? el.attribs['data-language'];
  if (declared) return declared.toLowerCase();
  const match = LANGUAGE.exec(el.attribs.class ?? '');
  const language = match?.[1]?.toLowerCase();
  // Sphinx marks plain blocks "highlight-default" / "highlight-none"
  return language && language !== 'default' && language !== 'none' && language !== 'text' ? language : null;
}

function hasAny(el: Element, names: string[]): boolean {
  return el.children.some((c) => isElement(c) && (names.includes(c.name) || hasAny(c, names)));
}

/** `href` made absolute against `base`, fragment kept, when it is an http(s) URL; else null. */
export function absoluteHref(href: string, base: URL): string | null {
  const url = URL.parse(href.trim(), base);
  return url && (url.protocol === 'http:' || url.protocol === 'https:') ? url.href : null;
}

/** Whitespace that collapsing would change: a run of two, or any whitespace but a plain space. */
export const NEEDS_COLLAPSE = /\s\s|[^\S ]/;

/**
 * `text` with each whitespace run made one space. Most text nodes have none to collapse: a test
 * (native code, no allocation) answers them without building a new string.
 */
export function collapseSpaces(text: string): string {
  return NEEDS_COLLAPSE.test(text) ? text.replace(/\s+/g, ' ') : text;
}

/** `**x**` around the text, with its outer spaces kept outside the markers. */
function wrap(text: string, marker: string): string {
  const inner = text.trim();
  if (!inner) return text;
  const lead = /^\s/.test(text) ? ' ' : '';
  const trail = /\s$/.test(text) ? ' ' : '';
  return `${lead}${marker}${inner}${marker}${trail}`;
}

function codeSpan(raw: string): string {
  const text = collapseSpaces(raw);
  const inner = text.trim();
  if (!inner) return text;
  let ticks = '`';
  while (inner.includes(ticks)) ticks += '`';
  const pad = inner.startsWith('`') || inner.endsWith('`') ? ' ' : '';
  const lead = /^\s/.test(text) ? ' ' : '';
  const trail = /\s$/.test(text) ? ' ' : '';
  return `${lead}${ticks}${pad}${inner}${pad}${ticks}${trail}`;
}

/** Text that would read as a heading, quote or list at the start of a line is escaped. */
function escapeLineStarts(text: string): string {
  // a single line (most paragraphs) can only need it at its first character
  if (!text.includes('\n') && !LINE_START_CHAR.test(text)) return text;
  return text.replace(/^(#{1,6}\s|>|[-+*]\s|\d+[.)]\s)/gm, '\\$1');
}

const LINE_START_CHAR = /^[#>+*\-\d]/;
