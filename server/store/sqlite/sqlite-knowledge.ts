import type Database from 'better-sqlite3';
import type { KnowledgeHit, KnowledgeSearchOptions, KnowledgeSource } from '../knowledge-records.ts';
import { MARK_CLOSE, MARK_OPEN, SOURCE_COLUMNS, toHit, toSource, type HitRow, type SourceRow } from '../rows.ts';
import { RERANK_POOL, rerank } from '../rerank.ts';
import { searchTerms } from '../search-terms.ts';
import { statement } from './statements.ts';

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

/** Ranked passages (bm25, headings weighted up), best first, at most `perPage` of one page. */
export function searchKnowledge(
  db: Database.Database,
  query: string,
  limit: number,
  options: KnowledgeSearchOptions = {},
): KnowledgeHit[] {
  const match = ftsQuery(query);
  if (!match) return [];
  const rows = statement(db, 
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
}

/** Every source, the most recently crawled first. */
export function listSources(db: Database.Database): KnowledgeSource[] {
  const rows = statement(db, `SELECT ${SOURCE_COLUMNS} FROM sources s ORDER BY coalesce(s.last_crawled_at, s.created_at) DESC, s.url`)
    .all() as SourceRow[];
  return rows.map(toSource);
}

export function getSource(db: Database.Database, id: string): KnowledgeSource | null {
  const row = statement(db, `SELECT ${SOURCE_COLUMNS} FROM sources s WHERE s.id = ?`).get(id) as SourceRow | undefined;
  return row ? toSource(row) : null;
}

/** Deletes a source with its pages and chunks (the triggers drop them from the index); false when unknown. */
export function deleteSource(db: Database.Database, id: string): boolean {
  return db.transaction(() => {
    // Chunks first, explicitly, so the FTS delete trigger runs for each of them.
    statement(db, 'DELETE FROM chunks WHERE page_id IN (SELECT id FROM pages WHERE source_id = ?)').run(id);
    statement(db, 'DELETE FROM pages WHERE source_id = ?').run(id);
    return statement(db, 'DELETE FROM sources WHERE id = ?').run(id).changes === 1;
  })();
}
