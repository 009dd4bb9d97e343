/**
 * Schema migrations of the embedded store, applied in order at start-up; PRAGMA user_version records
 * how many have run. Append new ones; never edit one that has shipped.
 */
export const SQLITE_MIGRATIONS: string[] = [
  `
  CREATE TABLE executions (
    id TEXT PRIMARY KEY,
    ord INTEGER NOT NULL,
    kind TEXT NOT NULL,
    status TEXT NOT NULL,
    title TEXT NOT NULL,
    session_id TEXT,
    input TEXT NOT NULL,
    result TEXT,
    created_at INTEGER NOT NULL,
    started_at INTEGER,
    finished_at INTEGER,
    cancel_requested_at INTEGER,
    cancel_reason TEXT,
    error TEXT,
    attempt INTEGER NOT NULL DEFAULT 1,
    last_seq INTEGER NOT NULL DEFAULT 0,
    node TEXT,
    lease_until INTEGER,
    progress TEXT NOT NULL,
    created_by TEXT,
    cancelled_by TEXT
  );
  CREATE INDEX executions_by_status ON executions (status, ord);
  CREATE INDEX executions_by_session ON executions (session_id, ord);
  CREATE INDEX executions_by_created ON executions (created_at);

  CREATE TABLE execution_events (
    execution_id TEXT NOT NULL REFERENCES executions (id) ON DELETE CASCADE,
    seq INTEGER NOT NULL,
    at INTEGER NOT NULL,
    type TEXT NOT NULL,
    status TEXT NOT NULL,
    progress TEXT NOT NULL,
    message TEXT,
    PRIMARY KEY (execution_id, seq)
  ) WITHOUT ROWID;

  CREATE TABLE checkpoints (
    execution_id TEXT NOT NULL REFERENCES executions (id) ON DELETE CASCADE,
    key TEXT NOT NULL,
    value TEXT NOT NULL,
    PRIMARY KEY (execution_id, key)
  ) WITHOUT ROWID;

  CREATE TABLE sources (
    id TEXT PRIMARY KEY,
    url TEXT NOT NULL UNIQUE,
    title TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    last_crawled_at INTEGER,
    last_execution_id TEXT
  );

  CREATE TABLE pages (
    id INTEGER PRIMARY KEY,
    source_id TEXT NOT NULL REFERENCES sources (id) ON DELETE CASCADE,
    url TEXT NOT NULL UNIQUE,
    title TEXT NOT NULL,
    content_hash TEXT NOT NULL,
    markdown TEXT NOT NULL,
    execution_id TEXT,
    fetched_at INTEGER NOT NULL
  );
  CREATE INDEX pages_by_source ON pages (source_id);

  CREATE TABLE chunks (
    id INTEGER PRIMARY KEY,
    page_id INTEGER NOT NULL REFERENCES pages (id) ON DELETE CASCADE,
    ord INTEGER NOT NULL,
    heading TEXT,
    text TEXT NOT NULL
  );
  CREATE INDEX chunks_by_page ON chunks (page_id);

  -- Full-text index over chunks, kept in step by triggers (external content: no second copy of the text).
  CREATE VIRTUAL TABLE chunks_fts USING fts5 (heading, text, content = 'chunks', content_rowid = 'id', tokenize = 'porter unicode61');
  CREATE TRIGGER chunks_ai AFTER INSERT ON chunks BEGIN
    INSERT INTO chunks_fts (rowid, heading, text) VALUES (new.id, coalesce(new.heading, ''), new.text);
  END;
  CREATE TRIGGER chunks_ad AFTER DELETE ON chunks BEGIN
    INSERT INTO chunks_fts (chunks_fts, rowid, heading, text) VALUES ('delete', old.id, coalesce(old.heading, ''), old.text);
  END;
  `,
  `
  CREATE TABLE chat_sessions (
    id TEXT PRIMARY KEY,
    title TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
  );
  CREATE INDEX chat_sessions_by_updated ON chat_sessions (updated_at);

  CREATE TABLE chat_messages (
    id TEXT PRIMARY KEY,
    session_id TEXT NOT NULL REFERENCES chat_sessions (id) ON DELETE CASCADE,
    ord INTEGER NOT NULL,
    role TEXT NOT NULL CHECK (role IN ('user', 'assistant')),
    text TEXT NOT NULL,
    execution_id TEXT,
    created_at INTEGER NOT NULL
  );
  CREATE INDEX chat_messages_by_session ON chat_messages (session_id, ord);
  `,
  `
  ALTER TABLE executions ADD COLUMN priority INTEGER NOT NULL DEFAULT 0;
  -- claim order: the highest priority first, FIFO within a priority
  CREATE INDEX executions_queue ON executions (status, priority DESC, ord);
  `,
  `
  -- the pages an execution stored, in the order they are paged (executionPages)
  CREATE INDEX pages_by_execution ON pages (execution_id, id);
  `,
];
