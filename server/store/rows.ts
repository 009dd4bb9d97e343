import type { Execution, ExecutionEvent } from '../executions/types.ts';
import { SNIPPET_CLOSE, SNIPPET_OPEN, type ChatMessage, type ChatSession, type KnowledgeHit, type KnowledgeSource } from './knowledge-records.ts';

/**
 * Row shapes and their mapping to records, shared by both stores: the tables have the same columns
 * in SQLite and PostgreSQL. Only JSON columns differ (text in SQLite, jsonb parsed by pg), so the
 * mappers take the function that reads them.
 */
export type Row = Record<string, unknown>;
export type ReadJson = (value: unknown) => unknown;

export function toExecution(r: Row, readJson: ReadJson): Execution {
  return {
    id: r.id as string,
    kind: r.kind as Execution['kind'],
    status: r.status as Execution['status'],
    title: r.title as string,
    sessionId: (r.session_id as string | null) ?? null,
    input: readJson(r.input) ?? null,
    result: readJson(r.result) ?? null,
    createdAt: r.created_at as number,
    startedAt: (r.started_at as number | null) ?? null,
    finishedAt: (r.finished_at as number | null) ?? null,
    cancelRequestedAt: (r.cancel_requested_at as number | null) ?? null,
    cancelReason: (r.cancel_reason as string | null) ?? null,
    error: (r.error as string | null) ?? null,
    attempt: r.attempt as number,
    lastSeq: r.last_seq as number,
    node: (r.node as string | null) ?? null,
    leaseUntil: (r.lease_until as number | null) ?? null,
    progress: readJson(r.progress) as Execution['progress'],
    createdBy: (r.created_by as string | null) ?? null,
    cancelledBy: (r.cancelled_by as string | null) ?? null,
    priority: Number(r.priority ?? 0),
  };
}

export function toEvent(r: Row, readJson: ReadJson): ExecutionEvent {
  return {
    executionId: r.execution_id as string,
    seq: r.seq as number,
    at: r.at as number,
    type: r.type as ExecutionEvent['type'],
    status: r.status as ExecutionEvent['status'],
    progress: readJson(r.progress) as ExecutionEvent['progress'],
    message: (r.message as string | null) ?? null,
  };
}

// Control characters never appear in stored text (the crawl stores Markdown), so they mark matches
// unambiguously until they are turned into the public « » marks.
export const MARK_OPEN = '\u0002';
export const MARK_CLOSE = '\u0003';

/**
 * A snippet as plain text: Markdown link and image syntax (whole, or cut off by the snippet's window),
 * emphasis, code marks and escapes removed, whitespace collapsed. The search marks are kept.
 */
export function plainSnippet(raw: string): string {
  return raw
    .replace(/!\[([^\]]*)\]\([^)]*\)/g, '$1')
    .replace(/\[([^\]]*)\]\([^)]*\)/g, '$1')
    .replace(/\]\([^)\s]*\)?/g, '')
    .replace(/\(https?:\/\/[^)\s]*\)?/g, '')
    .replace(/^(…?)[^\s…]*\)(?=\s|$)/, '$1')
    .replace(/(^|\s)\[(?=\S)/g, '$1')
    .replace(/```[\w+#.-]*|\*\*|__|`/g, '')
    .replace(/(^|\n)\s*(?:#{1,6}\s+|>\s?)/g, '$1')
    .replace(/\\([\\`*_{}[\]()#+\-.!|>~])/g, '$1')
    .replace(/\s+/g, ' ')
    .trim();
}

/** Turns the search engine's internal marks into « », showing any « » already in the text as ‹ ›. */
export function publicSnippet(raw: string): string {
  return plainSnippet(raw)
    .replaceAll(SNIPPET_OPEN, '‹')
    .replaceAll(SNIPPET_CLOSE, '›')
    .replaceAll(MARK_OPEN, SNIPPET_OPEN)
    .replaceAll(MARK_CLOSE, SNIPPET_CLOSE);
}

export type HitRow = { id: number; heading: string | null; text: string; score: number; snippet: string; url: string; title: string };

export const toHit = (r: HitRow): KnowledgeHit => ({
  chunkId: r.id,
  url: r.url,
  title: r.title,
  heading: r.heading || null,
  snippet: publicSnippet(r.snippet),
  text: r.text,
  score: r.score,
});

export const SOURCE_COLUMNS = `s.id, s.url, s.title, s.created_at, s.last_crawled_at, s.last_execution_id,
  (SELECT count(*) FROM pages p WHERE p.source_id = s.id) AS pages,
  (SELECT count(*) FROM chunks c JOIN pages p ON p.id = c.page_id WHERE p.source_id = s.id) AS chunks`;

export type SourceRow = {
  id: string;
  url: string;
  title: string;
  created_at: number;
  last_crawled_at: number | null;
  last_execution_id: string | null;
  pages: number;
  chunks: number;
};

export const toSource = (r: SourceRow): KnowledgeSource => ({
  id: r.id,
  url: r.url,
  title: r.title,
  pages: r.pages,
  chunks: r.chunks,
  createdAt: r.created_at,
  lastCrawledAt: r.last_crawled_at,
  lastExecutionId: r.last_execution_id,
});

export type SessionRow = { id: string; title: string; created_at: number; updated_at: number };
export type MessageRow = {
  id: string;
  session_id: string;
  role: ChatMessage['role'];
  text: string;
  execution_id: string | null;
  status: ChatMessage['status'];
  created_at: number;
};

export const toSession = (r: SessionRow): ChatSession => ({ id: r.id, title: r.title, createdAt: r.created_at, updatedAt: r.updated_at });
export const toMessage = (r: MessageRow): ChatMessage => ({
  id: r.id,
  sessionId: r.session_id,
  role: r.role,
  text: r.text,
  executionId: r.execution_id,
  status: r.status ?? null,
  createdAt: r.created_at,
});

// The status is read from the execution row, so a cancelled answer reads as stopped without the engine knowing of chat.
// An answer's text is written once, when it is complete (completeChatMessage); until then (still
// streaming, or cut short by a cancel, a failure or a crash) it is the concatenation of its TOKEN
// events, so a message always shows exactly what was emitted. A complete answer's text is never
// empty (an answer that finds nothing says so). Same SQL in SQLite (3.44+) and PostgreSQL.
export const MESSAGE_SELECT = `SELECT m.id, m.session_id, m.ord, m.role,
    CASE WHEN m.text = '' AND m.execution_id IS NOT NULL
      THEN coalesce((SELECT string_agg(t.message, '' ORDER BY t.seq) FROM execution_events t
                     WHERE t.execution_id = m.execution_id AND t.type = 'TOKEN'), '')
      ELSE m.text END AS text,
    m.execution_id, m.created_at, e.status
  FROM chat_messages m LEFT JOIN executions e ON e.id = m.execution_id`;
