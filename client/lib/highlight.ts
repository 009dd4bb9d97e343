/** A piece of text, marked when it matches one of the search terms. */
export interface Segment {
  text: string;
  match: boolean;
}

const MIN_TERM_LENGTH = 2;

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

const MARKED = /«([^«»]*)»/u;

/**
 * Splits `text` into segments so matches can be shown highlighted without v-html (snippets come
 * from crawled pages and must never be rendered as HTML). The server wraps matched terms in « »;
 * without such marks the words of `query` are looked for instead.
 */
export function highlight(text: string, query: string): Segment[] {
  if (MARKED.test(text)) return splitOnMatches(text, new RegExp(MARKED.source, 'gu'));
  const terms = [...new Set(query.toLowerCase().split(/[^\p{L}\p{N}]+/u))]
    .filter((term) => term.length >= MIN_TERM_LENGTH)
    .sort((a, b) => b.length - a.length)
    .map(escapeRegExp);
  if (terms.length === 0 || text.length === 0) return [{ text, match: false }];
  return splitOnMatches(text, new RegExp(`(${terms.join('|')})`, 'iu'));
}

function splitOnMatches(text: string, pattern: RegExp): Segment[] {
  // With one capturing group, split() puts the captured matches at the odd indices.
  return text
    .split(pattern)
    .map((part, index) => ({ text: part, match: index % 2 === 1 }))
    .filter((segment) => segment.text.length > 0);
}
