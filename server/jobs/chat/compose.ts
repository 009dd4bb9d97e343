import { searchTerms } from '../../store/search-terms.ts';
import type { Passage } from './retrieval.ts';

/** A page an answer cites, numbered in order of first use: [1], [2], ... */
export interface Citation {
  n: number;
  url: string;
  title: string;
}

export interface ComposedAnswer {
  text: string;
  citations: Citation[];
  /** False when nothing relevant was found and the text says so. */
  found: boolean;
}

const MAX_PASSAGES = 3;
/** Passages beyond the first are quoted while the answer stays within this many characters of text. */
const MAX_ANSWER_CHARS = 4500;
/** Passages scoring less than this share of the best one are left out. */
const WEAKEST = 0.6;
const MAX_SENTENCE_CHARS = 400;
const MIN_SENTENCE_CHARS = 12;
/** Sentences about the previous question count this much of a sentence about the question itself. */
const CONTEXT_WEIGHT = 0.3;

/**
 * A crude stemmer, enough to match "ports" with "port", "retries" with "retry" and "named" with
 * "name" (a final e goes too, so "name" and "nam(ed)" meet). Both sides of a comparison use it.
 */
export function stem(word: string): string {
  let w = word.toLowerCase();
  if (w.length > 4 && w.endsWith('ies')) w = `${w.slice(0, -3)}y`;
  else if (w.length > 5 && w.endsWith('ing')) w = w.slice(0, -3);
  else if (w.length > 4 && w.endsWith('ed')) w = w.slice(0, -2);
  else if (w.length > 4 && w.endsWith('es') && !w.endsWith('ses')) w = w.slice(0, -1);
  else if (w.length > 3 && w.endsWith('s') && !w.endsWith('ss')) w = w.slice(0, -1);
  return w.length > 3 && w.endsWith('e') ? w.slice(0, -1) : w;
}

const stems = (text: string): Set<string> => new Set(searchTerms(text, 64).map(stem));

/** The answer when the knowledge base holds nothing relevant: say so, invent nothing. */
export function notFoundAnswer(question: string): string {
  const topic = question.replace(/\s+/g, ' ').trim().replace(/[?.!]+$/, '');
  const shown = topic.length > 120 ? `${topic.slice(0, 119)}…` : topic;
  return `I could not find anything about “${shown}” in the knowledge base. Crawl a site that covers it first.`;
}

/** Plain sentences of a Markdown passage (links, emphasis, list and heading marks removed). */
export function sentencesOf(markdown: string): string[] {
  const blocks: string[] = [];
  let paragraph: string[] = [];
  const end = () => {
    if (paragraph.length) blocks.push(paragraph.join(' '));
    paragraph = [];
  };
  let inFence = false;
  for (const raw of markdown.split('\n')) {
    if (/^\s*(```|~~~)/.test(raw)) {
      inFence = !inFence;
      end();
      continue;
    }
    if (inFence || /^\s*\|?\s*:?-{3,}/.test(raw)) continue;
    const line = inline(raw);
    if (!line) {
      end();
      continue;
    }
    // Headings, list items, quotes and table rows stand alone; other lines continue a paragraph.
    if (/^\s*(#{1,6}\s|[-*+]\s|\d+[.)]\s|>|\|)/.test(raw)) {
      end();
      blocks.push(line);
    } else paragraph.push(line);
  }
  end();
  return blocks
    .flatMap((b) => b.split(/(?<=[.!?])\s+(?=[\p{Lu}\p{N}"'“(])/u))
    .map((s) => s.trim())
    .filter((s) => s.length >= MIN_SENTENCE_CHARS)
    .map((s) => (s.length > MAX_SENTENCE_CHARS ? `${s.slice(0, MAX_SENTENCE_CHARS - 1)}…` : s));
}

function inline(line: string): string {
  return line
    .replace(/!\[[^\]]*\]\([^)]*\)/g, '')
    .replace(/\[([^\]]*)\]\([^)]*\)/g, '$1')
    .replace(/^\s*(#{1,6}\s+|[-*+]\s+|\d+[.)]\s+|>\s?)/, '')
    .replace(/\|/g, ' ')
    .replace(/(\*\*|__|`)/g, '')
    .replace(/\\([\\`*_{}[\]()#+\-.!|>~])/g, '$1')
    .replace(/\s+/g, ' ')
    .trim();
}

interface Candidate {
  passage: Passage;
  rank: number;
  matched: Set<string>;
  score: number;
}

/** The best passage of each page, pages in the search's order (it has weighed rarity, headings and page names). */
function candidates(passages: readonly Passage[], question: Set<string>, context: Set<string>): Candidate[] {
  const byPage = new Map<string, Candidate>();
  passages.forEach((passage, rank) => {
    const words = stems(`${passage.title} ${passage.heading ?? ''} ${passage.text}`);
    const matched = new Set([...question].filter((t) => words.has(t)));
    if (matched.size === 0) return;
    const fromContext = [...context].filter((t) => words.has(t) && !question.has(t)).length;
    const score = matched.size + CONTEXT_WEIGHT * fromContext;
    const page = byPage.get(passage.url);
    if (!page || score > page.score) byPage.set(passage.url, { passage, rank: page?.rank ?? rank, matched, score });
  });
  return [...byPage.values()].sort((a, b) => a.rank - b.rank);
}

/**
 * Composes an answer from retrieved passages without a language model: quotes whole passages
 * (their heading path and text, code blocks kept) of the best pages in the search's order, for each
 * page the passage that shares the most terms with the question (the previous question counts a
 * little, for follow-ups), leaving out pages whose best passage is far weaker than the others'; each
 * says which page it is from ([n], listed by URL under Sources). When the passages cover too little
 * of the question it says it found nothing.
 */
export function composeAnswer(question: string, passages: readonly Passage[], previousQuestion: string | null = null): ComposedAnswer {
  const asked = stems(question);
  const context = previousQuestion ? stems(previousQuestion) : new Set<string>();
  const ranked = candidates(passages, asked, context);
  if (ranked.length === 0) return { text: notFoundAnswer(question), citations: [], found: false };
  const best = Math.max(...ranked.map((c) => c.score));

  const chosen: Candidate[] = [];
  let chars = 0;
  for (const c of ranked) {
    if (chosen.length >= MAX_PASSAGES) break;
    if (c.score < best * WEAKEST) continue;
    // whole passages or none: one that would make the answer too long is left out, not cut
    if (chosen.length > 0 && chars + c.passage.text.length > MAX_ANSWER_CHARS) continue;
    chosen.push(c);
    chars += c.passage.text.length;
  }
  const covered = new Set(chosen.flatMap((c) => [...c.matched]));
  // A question of several terms must be met by at least a third of them, or the match is chance.
  if (covered.size < Math.ceil(asked.size / 3)) return { text: notFoundAnswer(question), citations: [], found: false };

  const citations: Citation[] = [];
  const numberOf = (p: Passage): number => {
    let c = citations.find((x) => x.url === p.url);
    if (!c) citations.push((c = { n: citations.length + 1, url: p.url, title: p.title }));
    return c.n;
  };
  const quotes = chosen.map(({ passage }) => `${passageLabel(passage)} [${numberOf(passage)}]:\n\n${passage.text.trim()}`);
  const text = `Here is what the knowledge base says.\n\n${quotes.join('\n\n')}\n\n${sourcesBlock(citations)}`;
  return { text, citations, found: true };
}

/** "From “Title”, Section > Subsection": the page and the place in it a passage comes from. */
function passageLabel(p: Passage): string {
  const path = (p.heading ?? '').split(' > ').filter((h) => h && h !== p.title);
  return `From “${p.title}”${path.length ? `, ${path.join(' > ')}` : ''}`;
}

/** "Sources:" followed by one "[n] title: url" line per cited page. */
export function sourcesBlock(citations: readonly Citation[]): string {
  return `Sources:\n${citations.map((c) => `[${c.n}] ${c.title ? `${c.title}: ` : ''}${c.url}`).join('\n')}`;
}

/** Cuts text into small pieces of a few words each, for streaming; joined they give the text back exactly. */
export function pieces(text: string, wordsPerPiece = 3): string[] {
  const words = text.match(/^\s+|\S+\s*/g) ?? [];
  const out: string[] = [];
  for (let i = 0; i < words.length; i += wordsPerPiece) out.push(words.slice(i, i + wordsPerPiece).join(''));
  return out;
}
