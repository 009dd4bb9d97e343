import type pg from 'pg';

/**
 * Schema migrations of the PostgreSQL store, applied in order at start-up; the schema_migrations
 * table records which have run. Append new ones; never edit one that has shipped.
 * Times are epoch milliseconds (bigint), as in the SQLite store, so both stores share plan.ts.
 */
export const POSTGRES_MIGRATIONS: string[] = [
  `
  CREATE TABLE executions (
    id text PRIMARY KEY,
    ord bigint GENERATED ALWAYS AS IDENTITY,
    kind text NOT NULL,
    status text NOT NULL,
    title text NOT NULL,
    session_id text,
    input jsonb NOT NULL,
    result jsonb,
    created_at bigint NOT NULL,
    started_at bigint,
    finished_at bigint,
    cancel_requested_at bigint,
    cancel_reason text,
    error text,
    attempt integer NOT NULL DEFAULT 1,
    last_seq integer NOT NULL DEFAULT 0,
    node text,
    lease_until bigint,
    progress jsonb NOT NULL,
    created_by text,
    cancelled_by text
  );
  CREATE INDEX executions_by_status ON executions (status, ord);
  CREATE INDEX executions_by_session ON executions (session_id, ord);
  CREATE INDEX executions_by_created ON executions (created_at);
  CREATE INDEX executions_by_ord ON executions (ord);

  CREATE TABLE execution_events (
    execution_id text NOT NULL REFERENCES executions (id) ON DELETE CASCADE,
    seq integer NOT NULL,
    at bigint NOT NULL,
    type text NOT NULL,
    status text NOT NULL,
    progress jsonb NOT NULL,
    message text,
    PRIMARY KEY (execution_id, seq)
  );

  CREATE TABLE checkpoints (
    execution_id text NOT NULL REFERENCES executions (id) ON DELETE CASCADE,
    key text NOT NULL,
    value jsonb NOT NULL,
    PRIMARY KEY (execution_id, key)
  );

  CREATE TABLE sources (
    id text PRIMARY KEY,
    url text NOT NULL UNIQUE,
    title text NOT NULL,
    created_at bigint NOT NULL,
    last_crawled_at bigint,
    last_execution_id text
  );

  CREATE TABLE pages (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    source_id text NOT NULL REFERENCES sources (id) ON DELETE CASCADE,
    url text NOT NULL UNIQUE,
    title text NOT NULL,
    content_hash text NOT NULL,
    markdown text NOT NULL,
    execution_id text,
    fetched_at bigint NOT NULL
  );
  CREATE INDEX pages_by_source ON pages (source_id);

  -- Headings weigh A, body text B (see postgres-knowledge.ts for the rank weights); english: Porter stemming.
  CREATE TABLE chunks (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    page_id bigint NOT NULL REFERENCES pages (id) ON DELETE CASCADE,
    ord integer NOT NULL,
    heading text,
    text text NOT NULL,
    tsv tsvector GENERATED ALWAYS AS (
      setweight(to_tsvector('english', coalesce(heading, '')), 'A') || setweight(to_tsvector('english', text), 'B')
    ) STORED
  );
  CREATE INDEX chunks_by_page ON chunks (page_id);
  CREATE INDEX chunks_tsv ON chunks USING gin (tsv);
  `,
  `
  CREATE TABLE chat_sessions (
    id text PRIMARY KEY,
    ord bigint GENERATED ALWAYS AS IDENTITY,
    title text NOT NULL,
    created_at bigint NOT NULL,
    updated_at bigint NOT NULL
  );
  CREATE INDEX chat_sessions_by_updated ON chat_sessions (updated_at, ord);

  CREATE TABLE chat_messages (
    id text PRIMARY KEY,
    session_id text NOT NULL REFERENCES chat_sessions (id) ON DELETE CASCADE,
    ord integer NOT NULL,
    role text NOT NULL CHECK (role IN ('user', 'assistant')),
    text text NOT NULL,
    execution_id text,
    created_at bigint NOT NULL
  );
  CREATE INDEX chat_messages_by_session ON chat_messages (session_id, ord);
  `,
  `
  ALTER TABLE executions ADD COLUMN priority integer NOT NULL DEFAULT 0;
  -- claim order (SELECT ... ORDER BY priority DESC, ord FOR UPDATE SKIP LOCKED): only queued rows
  CREATE INDEX executions_queue ON executions (priority DESC, ord) WHERE status = 'QUEUED';
  `,
  `
  -- the pages an execution stored, in the order they are paged (executionPages)
  CREATE INDEX pages_by_execution ON pages (execution_id, id);
  `,
];

/** Any constant; the same for every node, so concurrent start-ups take turns. */
const MIGRATION_LOCK = 5_187_412_001;

/**
 * Applies the pending migrations in one transaction under a transaction-level advisory lock: when
 * several nodes start at once, one migrates and the others wait, then find nothing left to do.
 */
export async function migrate(client: pg.PoolClient): Promise<void> {
  await client.query('BEGIN');
  try {
    await client.query('SELECT pg_advisory_xact_lock($1)', [MIGRATION_LOCK]);
    await client.query(`CREATE TABLE IF NOT EXISTS schema_migrations (
      version integer PRIMARY KEY,
      applied_at timestamptz NOT NULL DEFAULT now()
    )`);
    const { rows } = await client.query<{ version: number }>('SELECT version FROM schema_migrations');
    const applied = new Set(rows.map((r) => r.version));
    for (const [i, sql] of POSTGRES_MIGRATIONS.entries()) {
      if (applied.has(i + 1)) continue;
      await client.query(sql);
      await client.query('INSERT INTO schema_migrations (version) VALUES ($1)', [i + 1]);
    }
    await client.query('COMMIT');
  } catch (error) {
    await client.query('ROLLBACK').catch(() => {});
    throw error;
  }
}
