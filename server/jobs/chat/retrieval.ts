import type { KnowledgeHit, KnowledgeSearchOptions, ChatMessage } from '../../store/knowledge-records.ts';

/** A passage retrieved for a question. */
export type Passage = Pick<KnowledgeHit, 'chunkId' | 'url' | 'title' | 'heading' | 'text' | 'score'>;

export interface Retrieval {
  question: string;
  /** The user's previous question in the session, for follow-ups ("and its timeout?"). */
  previousQuestion: string | null;
  /** Best first: passages for the question, then those the previous question adds. */
  passages: Passage[];
}

interface Searcher {
  searchKnowledge(query: string, limit: number, options?: KnowledgeSearchOptions): Promise<KnowledgeHit[]>;
}

const PASSAGES = 8;
const PER_PAGE = 3;

/** The user question asked before `messageId` (the answer being written), if any. */
export function previousQuestion(history: readonly ChatMessage[], messageId: string): string | null {
  const own = history.findIndex((m) => m.id === messageId);
  const before = own === -1 ? history : history.slice(0, own);
  // before ends with this answer's own question; the one asked before it is the context.
  const questions = before.filter((m) => m.role === 'user');
  return questions.length >= 2 ? questions[questions.length - 2]!.text : null;
}

/**
 * Retrieves the best passages for a question: first those matching the question alone (so it is
 * answered on its own terms), then those found with the previous question added, which gives a
 * follow-up its subject.
 */
export async function retrieve(searcher: Searcher, question: string, previous: string | null): Promise<Retrieval> {
  const passages = new Map<number, Passage>();
  const add = (hits: KnowledgeHit[]) => {
    for (const { chunkId, url, title, heading, text, score } of hits) {
      if (!passages.has(chunkId) && passages.size < PASSAGES) passages.set(chunkId, { chunkId, url, title, heading, text, score });
    }
  };
  add(await searcher.searchKnowledge(question, PASSAGES, { perPage: PER_PAGE }));
  if (previous) add(await searcher.searchKnowledge(`${previous} ${question}`, PASSAGES, { perPage: PER_PAGE }));
  return { question, previousQuestion: previous, passages: [...passages.values()] };
}
