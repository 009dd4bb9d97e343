import type { PageInput } from './knowledge-records.ts';

/** A passage of a page for search, with the path of headings it sits under ("Guide > Install"). */
export interface Chunk {
  heading: string | null;
  text: string;
}

export const DEFAULT_CHUNK_CHARS = 1500;

const HEADING = /^(#{1,6})\s+(.*?)\s*#*\s*$/;
const FENCE = /^\s*(```|~~~)/;

/**
 * Splits Markdown into chunks of at most `maxChars`: first at headings (outside code fences), then
 * at paragraph breaks, and only a paragraph longer than the limit is cut inside (at a line,
 * sentence or word boundary). Each chunk carries its heading path.
 */
export function chunkMarkdown(markdown: string, maxChars = DEFAULT_CHUNK_CHARS): Chunk[] {
  const chunks: Chunk[] = [];
  const headings: { level: number; text: string }[] = [];
  let paragraphs: string[] = [];
  let current: string[] = [];
  let inFence = false;

  const endParagraph = () => {
    const text = current.join('\n').trim();
    if (text) paragraphs.push(text);
    current = [];
  };
  const endSection = () => {
    endParagraph();
    const heading = headings.length > 0 ? headings.map((h) => withoutLinks(h.text)).join(' > ') : null;
    for (const text of pack(paragraphs, maxChars)) chunks.push({ heading, text });
    paragraphs = [];
  };

  for (const line of markdown.split('\n')) {
    if (FENCE.test(line)) inFence = !inFence;
    const heading = inFence ? null : HEADING.exec(line);
    if (heading) {
      endSection();
      const level = heading[1]?.length ?? 1;
      while ((headings.at(-1)?.level ?? 0) >= level) headings.pop();
      headings.push({ level, text: heading[2] ?? '' });
    } else if (!inFence && line.trim() === '') {
      endParagraph();
    } else {
      // passages are read, searched and quoted away from the page: link targets would only add URL noise
      current.push(inFence ? line : withoutLinks(line));
    }
  }
  endSection();
  return chunks;
}

/** Markdown links and images reduced to their text: "[CREATE INDEX](https://…)" -> "CREATE INDEX". */
export function withoutLinks(line: string): string {
  if (!line.includes('](')) return line;
  return line.replace(/!?\[((?:\\.|[^\]\\])*)\]\((?:[^()\s]|\([^()\s]*\))*\)/g, '$1');
}

/** Packs paragraphs greedily into pieces of at most maxChars, cutting only paragraphs that are too long. */
function pack(paragraphs: string[], maxChars: number): string[] {
  const pieces: string[] = [];
  let piece = '';
  for (const paragraph of paragraphs.flatMap((p) => cut(p, maxChars))) {
    if (piece && piece.length + 2 + paragraph.length > maxChars) {
      pieces.push(piece);
      piece = '';
    }
    piece = piece ? `${piece}\n\n${paragraph}` : paragraph;
  }
  if (piece) pieces.push(piece);
  return pieces;
}

function cut(text: string, maxChars: number): string[] {
  const parts: string[] = [];
  let rest = text;
  while (rest.length > maxChars) {
    const window = rest.slice(0, maxChars + 1);
    const at = [window.lastIndexOf('\n'), window.lastIndexOf('. ') + 1, window.lastIndexOf(' ')].find(
      (i) => i >= maxChars / 2,
    );
    const end = at ?? maxChars;
    parts.push(rest.slice(0, end).trimEnd());
    rest = rest.slice(end).trimStart();
  }
  if (rest) parts.push(rest);
  return parts;
}

/** A page with its chunks: those it was given, or its Markdown split here (see PageInput.chunks). */
export type ChunkedPage = PageInput & { chunks: Chunk[] };

export function withChunks(page: PageInput): ChunkedPage {
  return page.chunks ? (page as ChunkedPage) : { ...page, chunks: chunkMarkdown(page.markdown) };
}
