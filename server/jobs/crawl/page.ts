import { createHash } from 'node:crypto';
import { chunkMarkdown } from '../../store/chunk.ts';
import { decodeBody, extractHtml, extractText, type PageLink } from './extract.ts';
import type { PageInput } from '../../store/knowledge-records.ts';

const HTML_TYPES = new Set(['text/html', 'application/xhtml+xml']);
const TEXT_TYPES = new Set(['text/plain', 'text/markdown', 'text/x-markdown']);

/** The media types a crawl reads as pages; anything else is skipped unread. */
export function isPageType(mimeType: string): boolean {
  return HTML_TYPES.has(mimeType) || TEXT_TYPES.has(mimeType);
}

export interface BuiltPage {
  /** null when there is nothing to store (noindex, or no text); `reason` says which. */
  page: PageInput | null;
  reason: string | null;
  /** One per frontier key, in page order: the main thread only looks each key up. */
  links: PageLink[];
  /** The page's rel=canonical URL (absolute), if it names one. */
  canonical: string | null;
}

/** A fetched page to build: plain data, so that it can be sent to a worker thread. */
export interface PageTask {
  body: Uint8Array;
  mimeType: string;
  charset: string | null;
  /** Where the body came from (after redirects): links are resolved against it. */
  url: string;
  /** The frontier key the page is stored under. */
  key: string;
  sourceUrl: string;
  /** Whether to split the page into chunks here (default) or leave that to the store (see PageInput.chunks). */
  chunk?: boolean;
}

/** Turns a fetched body into a stored page (Markdown, chunks, hash) and the links it holds. */
export function buildPage(options: PageTask): BuiltPage {
  const isHtml = HTML_TYPES.has(options.mimeType);
  const url = new URL(options.url);
  const body = Buffer.isBuffer(options.body) ? options.body : Buffer.from(options.body.buffer, options.body.byteOffset, options.body.byteLength);
  const text = decodeBody(body, options.charset, isHtml);
  const extracted = isHtml ? extractHtml(text, url) : extractText(text, options.mimeType, url);
  const { canonical } = extracted;
  const { links } = extracted;
  if (extracted.noindex) return { page: null, reason: 'the page asks not to be indexed (meta robots noindex)', links, canonical };
  if (extracted.markdown === '') return { page: null, reason: 'the page has no text content', links, canonical };
  return {
    page: {
      sourceUrl: options.sourceUrl,
      url: options.key,
      title: extracted.title,
      markdown: extracted.markdown,
      contentHash: createHash('sha256').update(extracted.markdown).digest('hex'),
      ...(options.chunk === false ? {} : { chunks: chunkMarkdown(extracted.markdown) }),
    },
    reason: null,
    links,
    canonical,
  };
}
