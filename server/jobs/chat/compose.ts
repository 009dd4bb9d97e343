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

const MAX_SENTENCES = 5;
const MAX_PER_PASSAGE = 2;
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
  sentence: string;
  passage: Passage;
  rank: number;
  matched: Set<string>;
  score: number;
}

function candidates(passages: readonly Passage[], question: Set<string>, context: Set<string>): Candidate[] {
  const seen = new Set<string>();
  const out: Candidate[] = [];
  passages.forEach((passage, rank) => {
    for (const sentence of sentencesOf(passage.text)) {
      const key = sentence.toLowerCase();
      if (seen.has(key)) continue;
      seen.add(key);
      const words = stems(sentence);
      const matched = new Set([...question].filter((t) => words.has(t)));
      if (matched.size === 0) continue;
      const fromContext = [...context].filter((t) => words.has(t) && !question.has(t)).length;
      out.push({ sentence, passage, rank, matched, score: matched.size + CONTEXT_WEIGHT * fromContext - rank * 0.01 });
    }
  });
  return out.sort((a, b) => b.score - a.score);
}

/**
 * Composes an answer from retrieved passages without a language model: picks the sentences that
 * share the most terms with the question (the previous question counts a little, for follow-ups),
 * quotes them in order of relevance with inline [n] markers, and lists every cited page by URL.
 * When the sentences cover too little of the question it says it found nothing.
 */
export function composeAnswer(question: string, passages: readonly Passage[], previousQuestion: string | null = null): ComposedAnswer {
  const asked = stems(question);
  const context = previousQuestion ? stems(previousQuestion) : new Set<string>();
  const ranked = candidates(passages, asked, context);
  const best = ranked[0];
  if (!best) return { text: notFoundAnswer(question), citations: [], found: false };

  const chosen: Candidate[] = [];
  const perPassage = new Map<number, number>();
  for (const c of ranked) {
    if (chosen.length >= MAX_SENTENCES || c.score < best.score / 2) break;
    const used = perPassage.get(c.passage.chunkId) ?? 0;
    if (used >= MAX_PER_PASSAGE) continue;
    perPassage.set(c.passage.chunkId, used + 1);
    chosen.push(c);
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
  const lines = chosen.map((c) => `- ${c.sentence} [${numberOf(c.passage)}]`);
  const text = `Here is what the knowledge base says:\n\n${lines.join('\n')}\n\n${sourcesBlock(citations)}`;
  return { text, citations, found: true };
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
