// A second look at full-text hits, the same for every store: a page whose title or URL names what
// was asked ("/plpgsql-trigger.html", "Trigger Functions") is what a reader means more often than a
// page that merely mentions the words. The index ranks passages; this lifts the pages they are on.
import type { KnowledgeHit } from './knowledge-records.ts';
import { searchTerms } from './search-terms.ts';

/** How many more passages a store fetches than it returns, so that reranking has candidates. */
export const RERANK_POOL = 5;
/** Score multiplier when every query term is in the page's title or URL path (pro rata below). */
const PAGE_NAME_BOOST = 1.0;

/** The hits reordered by score × (1 + boost × share of query terms named by the page's title or URL), best `limit`. */
export function rerank(hits: KnowledgeHit[], query: string, limit: number): KnowledgeHit[] {
  const terms = searchTerms(query).map(root);
  if (terms.length === 0) return hits.slice(0, limit);
  const named = new Map<string, number>();
  const share = (hit: KnowledgeHit): number => {
    let value = named.get(hit.url);
    if (value === undefined) {
      const words = new Set(searchTerms(`${hit.title} ${pathWords(hit.url)}`, 256).map(root));
      value = terms.filter((t) => words.has(t)).length / terms.length;
      named.set(hit.url, value);
    }
    return value;
  };
  return hits
    .map((hit, i) => ({ hit, i, score: hit.score * (1 + PAGE_NAME_BOOST * share(hit)) }))
    .sort((a, b) => b.score - a.score || a.i - b.i)
    .slice(0, limit)
    .map(({ hit, score }) => ({ ...hit, score }));
}

function pathWords(url: string): string {
  try {
    return decodeURIComponent(new URL(url).pathname).replace(/\.(?:html?|php|aspx?|md)$/i, '');
  } catch {
    return '';
  }
}

/** A crude common root of English word forms (ports/port, indexes/index, triggered/trigger). */
function root(word: string): string {
  if (word.length > 5 && word.endsWith('ing')) return word.slice(0, -3);
  if (word.length > 4 && (word.endsWith('es') || word.endsWith('ed'))) return word.slice(0, -2);
  if (word.length > 3 && word.endsWith('s') && !word.endsWith('ss')) return word.slice(0, -1);
  return word;
}
