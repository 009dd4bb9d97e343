import { randomUUID } from 'node:crypto';
import type Database from 'better-sqlite3';
import type { KnowledgeHit, KnowledgeSearchOptions, KnowledgeSource, StoredPage } from '../knowledge-records.ts';
import type { ChunkedPage } from '../chunk.ts';
import type { KnowledgeStore } from '../store.ts';
import { MARK_CLOSE, MARK_OPEN, SOURCE_COLUMNS, toHit, toSource, type HitRow, type SourceRow } from '../rows.ts';
import { RERANK_POOL, rerank } from '../rerank.ts';
import { searchTerms } from '../search-terms.ts';
import { statement, transaction, type MainTurn } from './statements.ts';

/** bm25 weights of the chunks_fts columns (heading, text): a match in a heading counts more. */
const HEADING_WEIGHT = 4.0;
const TEXT_WEIGHT = 1.0;
const SNIPPET_TOKENS = 32;

/** An FTS5 MATCH expression of quoted terms, OR-combined: user text never becomes query syntax. */
export function ftsQuery(query: string): string | null {
  const terms = searchTerms(query);
  if (terms.length === 0) return null;
  return terms.map((t) => `"${t.replaceAll('"', '""')}"`).join(' OR ');
}

/** The statements that store a page, prepared once per database by statement(). */
const PAGE_SQL = {
  sourceByUrl: 'SELECT id FROM sources WHERE url = ?',
  insertSource: 'INSERT INTO sources (id, url, title, created_at) VALUES (?, ?, ?, ?)',
  touchSource: 'UPDATE sources SET last_crawled_at = ?, last_execution_id = ? WHERE id = ?',
  pageByUrl: 'SELECT id, content_hash FROM pages WHERE url = ?',
  insertPage: `INSERT INTO pages (source_id, url, title, content_hash, markdown, execution_id, fetched_at)
  VALUES (?, ?, ?, ?, ?, ?, ?)`,
  updatePage: `UPDATE pages SET source_id = ?, title = ?, content_hash = ?, markdown = ?, execution_id = ?,
  fetched_at = ? WHERE id = ?`,
  deleteChunks: 'DELETE FROM chunks WHERE page_id = ?',
  insertChunk: 'INSERT INTO chunks (page_id, ord, heading, text) VALUES (?, ?, ?, ?)',
} as const;

/**
 * Stores a page with its chunks inside the caller's transaction (the job's fenced write); false when
 * the same URL is stored with the same content hash already.
 */
export function upsertPage(db: Database.Database, page: ChunkedPage, executionId: string, now: number): boolean {
  let source = statement(db, PAGE_SQL.sourceByUrl).get(page.sourceUrl) as { id: string } | undefined;
  if (!source) {
    source = { id: randomUUID() };
    statement(db, PAGE_SQL.insertSource).run(source.id, page.sourceUrl, new URL(page.sourceUrl).host, now);
  }
  statement(db, PAGE_SQL.touchSource).run(now, executionId, source.id);
  const existing = statement(db, PAGE_SQL.pageByUrl).get(page.url) as { id: number; content_hash: string } | undefined;
  if (existing?.content_hash === page.contentHash) return false;
  let pageId: number | bigint;
  if (existing) {
    pageId = existing.id;
    statement(db, PAGE_SQL.updatePage).run(source.id, page.title, page.contentHash, page.markdown, executionId, now, pageId);
    statement(db, PAGE_SQL.deleteChunks).run(pageId);
  } else {
    pageId = statement(db, PAGE_SQL.insertPage).run(source.id, page.url, page.title, page.contentHash, page.markdown, executionId, now)
      .lastInsertRowid;
  }
  page.chunks.forEach((chunk, i) => statement(db, PAGE_SQL.insertChunk).run(pageId, i, chunk.heading, chunk.text));
  return true;
}

/** The knowledge slice of the SQLite store. */
export class SqliteKnowledge implements KnowledgeStore {
  constructor(
    private readonly db: Database.Database,
    /** Runs each call in its turn (see SqliteStore.inOrder). */
    private readonly inOrder: MainTurn,
  ) {}

  /** Ranked passages (bm25, headings weighted up), best first, at most `perPage` of one page. */
  async search(query: string, limit: number, options: KnowledgeSearchOptions = {}): Promise<KnowledgeHit[]> {
    return this.inOrder(() => {
      const match = ftsQuery(query);
      if (!match) return [];
      const rows = statement(this.db, 
          `WITH ranked AS (
             SELECT c.id, c.page_id, c.heading, c.text,
                    -bm25(chunks_fts, ${HEADING_WEIGHT}, ${TEXT_WEIGHT}) AS score,
                    snippet(chunks_fts, 1, '${MARK_OPEN}', '${MARK_CLOSE}', '…', ${SNIPPET_TOKENS}) AS snippet
             FROM chunks_fts JOIN chunks c ON c.id = chunks_fts.rowid
             WHERE chunks_fts MATCH ?
           ), numbered AS (
             SELECT *, row_number() OVER (PARTITION BY page_id ORDER BY score DESC, id) AS n FROM ranked
           )
           SELECT numbered.id, numbered.heading, numbered.text, numbered.score, numbered.snippet, p.url, p.title
           FROM numbered JOIN pages p ON p.id = numbered.page_id
           WHERE n <= ?
           ORDER BY score DESC, numbered.id
           LIMIT ?`,
        )
        .all(match, options.perPage ?? 1, limit * RERANK_POOL) as HitRow[];
      return rerank(rows.map(toHit), query, limit);
    });
  }

  /** Every source, the most recently crawled first. */
  async listSources(): Promise<KnowledgeSource[]> {
    return this.inOrder(() => {
      const rows = statement(this.db, `SELECT ${SOURCE_COLUMNS} FROM sources s ORDER BY coalesce(s.last_crawled_at, s.created_at) DESC, s.url`)
        .all() as SourceRow[];
      return rows.map(toSource);
    });
  }

  async getSource(id: string): Promise<KnowledgeSource | null> {
    return this.inOrder(() => {
      const row = statement(this.db, `SELECT ${SOURCE_COLUMNS} FROM sources s WHERE s.id = ?`).get(id) as SourceRow | undefined;
      return row ? toSource(row) : null;
    });
  }

  /** Deletes a source with its pages and chunks (the triggers drop them from the index); false when unknown. */
  async deleteSource(id: string): Promise<boolean> {
    return this.inOrder(() => {
      return transaction(this.db, () => {
        // Chunks first, explicitly, so the FTS delete trigger runs for each of them.
        statement(this.db, 'DELETE FROM chunks WHERE page_id IN (SELECT id FROM pages WHERE source_id = ?)').run(id);
        statement(this.db, 'DELETE FROM pages WHERE source_id = ?').run(id);
        return statement(this.db, 'DELETE FROM sources WHERE id = ?').run(id).changes === 1;
      });
    });
  }

  /** The pages an execution stored after `afterId`, by id, with their chunk counts. */
  async listExecutionPages(executionId: string, afterId: number, limit: number): Promise<StoredPage[]> {
    return this.inOrder(() => {
      return statement(
        this.db,
        `SELECT p.id, p.url, p.title, p.fetched_at AS storedAt, (SELECT count(*) FROM chunks c WHERE c.page_id = p.id) AS chunks
         FROM pages p WHERE p.execution_id = ? AND p.id > ? ORDER BY p.id LIMIT ?`,
      ).all(executionId, afterId, limit) as StoredPage[];
    });
  }
}
