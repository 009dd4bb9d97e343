import { randomUUID } from 'node:crypto';
import type pg from 'pg';
import type { KnowledgeHit, KnowledgeSearchOptions, KnowledgeSource, StoredPage } from '../knowledge-records.ts';
import type { ChunkedPage } from '../chunk.ts';
import { MARK_CLOSE, MARK_OPEN, SOURCE_COLUMNS, toHit, toSource, type HitRow, type SourceRow } from '../rows.ts';
import { RERANK_POOL, rerank } from '../rerank.ts';
import { searchTerms } from '../search-terms.ts';
import type { KnowledgeStore } from '../store.ts';
import { text } from './rows.ts';

type Queryable = Pick<pg.Pool | pg.PoolClient, 'query'>;

/**
 * ts_rank_cd weights {D, C, B, A}: headings are A, body text B. 1.0 against 0.25 gives a heading
 * match four times the weight of a body match, as the SQLite store's bm25 column weights do.
 */
const RANK_WEIGHTS = '{0.1, 0.2, 0.25, 1.0}';
const HEADLINE_OPTIONS = `StartSel="${MARK_OPEN}", StopSel="${MARK_CLOSE}", MaxWords=32, MinWords=12, ShortWord=0, MaxFragments=2, FragmentDelimiter=" … "`;

/**
 * A to_tsquery text of the terms, OR-combined. searchTerms keeps only runs of letters and digits, and
 * none of them is tsquery syntax (& | ! < > ( ) : * ' \), so user text never becomes an operator.
 */
export function tsQuery(query: string): string | null {
  const terms = searchTerms(query);
  return terms.length === 0 ? null : terms.join(' | ');
}

/**
 * Stores a page with its chunks inside the caller's transaction; false when the same URL is stored
 * with the same content hash already. Upserts, so two nodes crawling one URL at once cannot collide.
 */
export async function upsertPage(db: Queryable, page: ChunkedPage, executionId: string, now: number): Promise<boolean> {
  const source = await db.query<{ id: string }>(
    `INSERT INTO sources (id, url, title, created_at, last_crawled_at, last_execution_id) VALUES ($1, $2, $3, $4, $4, $5)
     ON CONFLICT (url) DO UPDATE SET last_crawled_at = excluded.last_crawled_at, last_execution_id = excluded.last_execution_id
     RETURNING id`,
    [randomUUID(), page.sourceUrl, new URL(page.sourceUrl).host, now, executionId],
  );
  const stored = await db.query<{ id: number; inserted: boolean }>(
    `INSERT INTO pages AS p (source_id, url, title, content_hash, markdown, execution_id, fetched_at)
     VALUES ($1, $2, $3, $4, $5, $6, $7)
     ON CONFLICT (url) DO UPDATE SET source_id = excluded.source_id, title = excluded.title, content_hash = excluded.content_hash,
       markdown = excluded.markdown, execution_id = excluded.execution_id, fetched_at = excluded.fetched_at
     WHERE p.content_hash IS DISTINCT FROM excluded.content_hash
     RETURNING id, (xmax = 0) AS inserted`,
    [source.rows[0]!.id, page.url, text(page.title), page.contentHash, text(page.markdown), executionId, now],
  );
  const pageId = stored.rows[0]?.id;
  if (pageId === undefined) return false;
  // a new row has no chunks yet (xmax is 0 for a row this statement inserted, not updated)
  if (!stored.rows[0]!.inserted) await db.query('DELETE FROM chunks WHERE page_id = $1', [pageId]);
  await db.query(
    `INSERT INTO chunks (page_id, ord, heading, text)
     SELECT $1, u.ord - 1, u.heading, u.text FROM unnest($2::text[], $3::text[]) WITH ORDINALITY AS u(heading, text, ord)`,
    [pageId, page.chunks.map((c) => text(c.heading)), page.chunks.map((c) => text(c.text))],
  );
  return true;
}

/** The knowledge slice of the PostgreSQL store. */
export class PostgresKnowledge implements KnowledgeStore {
  constructor(private readonly db: Queryable) {}

  /** Ranked passages (ts_rank_cd, headings weighted up), best first, at most `perPage` of one page. */
  async search(query: string, limit: number, options: KnowledgeSearchOptions = {}): Promise<KnowledgeHit[]> {
    const match = tsQuery(query);
    if (!match) return [];
    // The headline (the costly part) is made only for the rows that are returned.
    const { rows } = await this.db.query<HitRow>(
      `WITH q AS (SELECT to_tsquery('english', $1) AS query),
       ranked AS (
         SELECT c.id, c.page_id, c.heading, c.text, ts_rank_cd('${RANK_WEIGHTS}', c.tsv, q.query) AS score
         FROM chunks c, q WHERE c.tsv @@ q.query
       ), numbered AS (
         SELECT *, row_number() OVER (PARTITION BY page_id ORDER BY score DESC, id) AS n FROM ranked
       ), top AS (
         SELECT * FROM numbered WHERE n <= $2 ORDER BY score DESC, id LIMIT $3
       )
       SELECT top.id, top.heading, top.text, top.score, ts_headline('english', top.text, q.query, $4) AS snippet, p.url, p.title
       FROM top JOIN pages p ON p.id = top.page_id CROSS JOIN q
       ORDER BY top.score DESC, top.id`,
      [match, options.perPage ?? 1, limit * RERANK_POOL, HEADLINE_OPTIONS],
    );
    return rerank(rows.map(toHit), query, limit);
  }

  /** Every source, the most recently crawled first. */
  async listSources(): Promise<KnowledgeSource[]> {
    const { rows } = await this.db.query<SourceRow>(
      `SELECT ${SOURCE_COLUMNS} FROM sources s ORDER BY coalesce(s.last_crawled_at, s.created_at) DESC, s.url`,
    );
    return rows.map(toSource);
  }

  async getSource(id: string): Promise<KnowledgeSource | null> {
    const { rows } = await this.db.query<SourceRow>(`SELECT ${SOURCE_COLUMNS} FROM sources s WHERE s.id = $1`, [id]);
    return rows[0] ? toSource(rows[0]) : null;
  }

  /** Deletes a source; its pages and chunks go with it (ON DELETE CASCADE), index entries included. */
  async deleteSource(id: string): Promise<boolean> {
    const { rowCount } = await this.db.query('DELETE FROM sources WHERE id = $1', [id]);
    return rowCount === 1;
  }

  /** The pages an execution stored after `afterId`, by id, with their chunk counts. */
  async listExecutionPages(executionId: string, afterId: number, limit: number): Promise<StoredPage[]> {
    const { rows } = await this.db.query<{ id: string; url: string; title: string; stored_at: string; chunks: string }>(
      `SELECT p.id, p.url, p.title, p.fetched_at AS stored_at, (SELECT count(*) FROM chunks c WHERE c.page_id = p.id) AS chunks
       FROM pages p WHERE p.execution_id = $1 AND p.id > $2 ORDER BY p.id LIMIT $3`,
      [executionId, afterId, limit],
    );
    return rows.map((r) => ({ id: Number(r.id), url: r.url, title: r.title, storedAt: Number(r.stored_at), chunks: Number(r.chunks) }));
  }
}
