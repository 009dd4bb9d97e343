import type { ExecutionStatus } from '../executions/status.ts';

/** One ranked passage of the knowledge base that matches a search. */
export interface KnowledgeHit {
  chunkId: number;
  url: string;
  title: string;
  /** The heading path the passage sits under ("Guide > Install"), if any. */
  heading: string | null;
  /** The matching passage, matched terms wrapped in « and » (see SNIPPET_OPEN). */
  snippet: string;
  /** The whole passage, for answer composition. */
  text: string;
  /** Higher is better; only comparable within one search. */
  score: number;
}

export interface KnowledgeSearchOptions {
  /** Passages of one page in the results at most (default 1: one hit per page). */
  perPage?: number;
}

/** One crawled site of the knowledge base, with what it holds now. */
export interface KnowledgeSource {
  id: string;
  url: string;
  title: string;
  pages: number;
  chunks: number;
  createdAt: number;
  lastCrawledAt: number | null;
  lastExecutionId: string | null;
}

/** One page an execution stored (the last one to store a URL owns it), with its position for paging. */
export interface StoredPage {
  /** The page row's id: the keyset the pages of an execution are paged by (ascending). */
  id: number;
  url: string;
  title: string;
  chunks: number;
  storedAt: number;
}

export type ChatRole = 'user' | 'assistant';

export interface ChatSession {
  id: string;
  title: string;
  createdAt: number;
  updatedAt: number;
}

/** Where a session stands in the list (most recently active first): its updatedAt, then its insertion order on a tie. */
export interface SessionPosition {
  updatedAt: number;
  ord: number;
}

/** A page of sessions, each with its position (for the next cursor), and how many sessions there are in all. */
export interface SessionPage {
  rows: { session: ChatSession; position: SessionPosition }[];
  total: number;
}

export interface ChatMessage {
  id: string;
  sessionId: string;
  role: ChatRole;
  /** For an answer still being written: the text so far. */
  text: string;
  executionId: string | null;
  /** The status of the execution that writes it (assistant messages); read from the execution row. */
  status: ExecutionStatus | null;
  createdAt: number;
}

export interface NewChatMessage {
  /** Given by the caller when it must know the id before the row exists (an answer's execution input). */
  id?: string;
  role: ChatRole;
  text: string;
  executionId?: string | null;
}

/** Wraps matched terms in snippets; a literal « or » in page text is shown as ‹ or › so the marks stay unambiguous. */
export const SNIPPET_OPEN = '«';
export const SNIPPET_CLOSE = '»';

/** A page of knowledge a job stores (crawl), with its chunks, ready for search. */
export interface PageInput {
  /** The site the page belongs to: the crawl's start URL origin, e.g. https://docs.example.com */
  sourceUrl: string;
  url: string;
  title: string;
  markdown: string;
  /** sha256 of the markdown; a page whose hash is unchanged is not stored again. */
  contentHash: string;
  /**
   * The passages search indexes. Absent: the store splits the Markdown itself (chunkMarkdown) where
   * it writes the page, e.g. on the SQLite page writer thread, off the crawl's main thread.
   */
  chunks?: { heading: string | null; text: string }[];
}
