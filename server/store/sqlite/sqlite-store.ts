import { randomUUID } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import Database from 'better-sqlite3';
import { initialProgress } from '../../executions/progress.ts';
import type { TransitionName } from '../../executions/status.ts';
import type { Execution, ExecutionEvent, Fence, Change, ExecutionFilter, NewExecution, TransitionOptions } from '../../executions/types.ts';
import { planTransition, planWrite, type Planned } from '../../executions/plan.ts';
import type { Store, StoreWrite } from '../store.ts';
import type { ChatMessage, ChatSession, KnowledgeHit, KnowledgeSearchOptions, KnowledgeSource, NewChatMessage, PageInput } from '../knowledge-records.ts';
import { toEvent, toExecution, type Row } from '../rows.ts';
import { SQLITE_MIGRATIONS } from './migrations.ts';
import { statement } from './statements.ts';
import * as chat from './sqlite-chat.ts';
import * as knowledge from './sqlite-knowledge.ts';


const json = (value: unknown): string => JSON.stringify(value ?? null);
const parse = (text: unknown): unknown => (typeof text === 'string' ? JSON.parse(text) : null);
const execution = (r: Row): Execution => toExecution(r, parse);
const event = (r: Row): ExecutionEvent => toEvent(r, parse);

/** The embedded store: one SQLite file (WAL) under the data folder; no server to install. */
export class SqliteStore implements Store {
  readonly dialect = 'sqlite' as const;
  readonly exclusive = true;
  readonly db: Database.Database;
  private readonly stmt: ReturnType<SqliteStore['prepare']>;

  constructor(readonly file: string) {
    if (file !== ':memory:') mkdirSync(dirname(file), { recursive: true });
    this.db = new Database(file);
    this.db.pragma('journal_mode = WAL');
    this.db.pragma('synchronous = NORMAL');
    this.db.pragma('foreign_keys = ON');
    this.db.pragma('busy_timeout = 5000');
    this.migrateSync();
    this.stmt = this.prepare();
  }

  private migrateSync(): void {
    const version = this.db.pragma('user_version', { simple: true }) as number;
    const pending = SQLITE_MIGRATIONS.slice(version);
    this.db.transaction(() => {
      pending.forEach((sql, i) => {
        this.db.exec(sql);
        this.db.pragma(`user_version = ${version + i + 1}`);
      });
    })();
  }

  private prepare() {
    const db = this.db;
    return {
      getExecution: db.prepare('SELECT * FROM executions WHERE id = ?'),
      insertExecution: db.prepare(`INSERT INTO executions
        (id, ord, kind, status, title, session_id, input, created_at, attempt, last_seq, progress, created_by)
        VALUES (@id, (SELECT coalesce(max(ord), 0) + 1 FROM executions), @kind, 'QUEUED', @title, @sessionId,
                @input, @createdAt, 1, 0, @progress, @createdBy)`),
      updateExecution: db.prepare(`UPDATE executions SET
          status = @status, result = @result, started_at = @startedAt, finished_at = @finishedAt,
          cancel_requested_at = @cancelRequestedAt, cancel_reason = @cancelReason, error = @error,
          attempt = @attempt, last_seq = @lastSeq, node = @node, lease_until = @leaseUntil,
          progress = @progress, cancelled_by = @cancelledBy
        WHERE id = @id AND status = @expectStatus AND attempt = @expectAttempt`),
      insertEvent: db.prepare(`INSERT INTO execution_events (execution_id, seq, at, type, status, progress, message)
        VALUES (@executionId, @seq, @at, @type, @status, @progress, @message)`),
      listEvents: db.prepare('SELECT * FROM execution_events WHERE execution_id = ? AND seq > ? ORDER BY seq LIMIT ?'),
      queued: db.prepare(`SELECT * FROM executions WHERE status = 'QUEUED' ORDER BY ord LIMIT ?`),
      renewLease: db.prepare(`UPDATE executions SET lease_until = ? WHERE id = ? AND node = ? AND status IN ('RUNNING', 'CANCELLING')`),
      orphans: db.prepare(`SELECT * FROM executions WHERE status IN ('RUNNING', 'CANCELLING') AND (? OR lease_until IS NULL OR lease_until < ?) ORDER BY ord`),
      checkpoint: db.prepare('SELECT key, value FROM checkpoints WHERE execution_id = ?'),
      putCheckpoint: db.prepare(`INSERT INTO checkpoints (execution_id, key, value) VALUES (?, ?, ?)
        ON CONFLICT (execution_id, key) DO UPDATE SET value = excluded.value`),
      deleteCheckpoint: db.prepare('DELETE FROM checkpoints WHERE execution_id = ? AND key = ?'),
      sourceByUrl: db.prepare('SELECT id FROM sources WHERE url = ?'),
      insertSource: db.prepare('INSERT INTO sources (id, url, title, created_at) VALUES (?, ?, ?, ?)'),
      touchSource: db.prepare('UPDATE sources SET last_crawled_at = ?, last_execution_id = ? WHERE id = ?'),
      pageByUrl: db.prepare('SELECT id, content_hash FROM pages WHERE url = ?'),
      insertPage: db.prepare(`INSERT INTO pages (source_id, url, title, content_hash, markdown, execution_id, fetched_at)
        VALUES (?, ?, ?, ?, ?, ?, ?)`),
      updatePage: db.prepare(`UPDATE pages SET source_id = ?, title = ?, content_hash = ?, markdown = ?, execution_id = ?,
        fetched_at = ? WHERE id = ?`),
      deleteChunks: db.prepare('DELETE FROM chunks WHERE page_id = ?'),
      insertChunk: db.prepare('INSERT INTO chunks (page_id, ord, heading, text) VALUES (?, ?, ?, ?)'),
    };
  }

  async migrate(): Promise<void> {
    this.migrateSync();
  }

  async close(): Promise<void> {
    if (this.db.open) this.db.close();
  }

  async ping(): Promise<void> {
    statement(this.db, 'SELECT 1').get();
  }

  async createExecution(input: NewExecution): Promise<Change> {
    const id = randomUUID();
    const now = Date.now();
    return this.db.transaction(() => {
      this.stmt.insertExecution.run({
        id,
        kind: input.kind,
        title: input.title,
        sessionId: input.sessionId,
        input: json(input.input),
        createdAt: now,
        progress: json(initialProgress()),
        createdBy: input.createdBy,
      });
      const row = this.read(id)!;
      const event: ExecutionEvent = {
        executionId: id,
        seq: 1,
        at: now,
        type: 'STATUS',
        status: 'QUEUED',
        progress: row.progress,
        message: null,
      };
      const execution = { ...row, lastSeq: 1 };
      this.save(row, { next: execution, event });
      return { execution, events: [event] };
    })();
  }

  async getExecution(id: string): Promise<Execution | null> {
    return this.read(id);
  }

  async listExecutions(filter: ExecutionFilter): Promise<Execution[]> {
    const where: string[] = [];
    const params: unknown[] = [];
    if (filter.statuses?.length) {
      where.push(`status IN (${filter.statuses.map(() => '?').join(', ')})`);
      params.push(...filter.statuses);
    }
    if (filter.kind) {
      where.push('kind = ?');
      params.push(filter.kind);
    }
    if (filter.sessionId) {
      where.push('session_id = ?');
      params.push(filter.sessionId);
    }
    const sql = `SELECT * FROM executions ${where.length ? `WHERE ${where.join(' AND ')}` : ''}
      ORDER BY ord ${filter.oldestFirst ? 'ASC' : 'DESC'} LIMIT ?`;
    params.push(filter.limit ?? -1);
    return (statement(this.db, sql).all(...params) as Row[]).map(execution);
  }

  async listEvents(executionId: string, afterSeq: number, limit = -1): Promise<ExecutionEvent[]> {
    return (this.stmt.listEvents.all(executionId, afterSeq, limit) as Row[]).map(event);
  }

  async transition(id: string, name: TransitionName | readonly TransitionName[], options: TransitionOptions = {}): Promise<Change | null> {
    return this.db.transaction(() => this.transitionSync(id, name, options))();
  }

  private transitionSync(id: string, name: TransitionName | readonly TransitionName[], options: TransitionOptions): Change | null {
    const row = this.read(id);
    if (!row) return null;
    const planned = planTransition(row, name, options, Date.now());
    if (!planned) return null;
    this.save(row, planned);
    return { execution: planned.next, events: [planned.event!] };
  }

  async claim(nodeId: string, limit: number, leaseMs: number): Promise<Change[]> {
    if (limit <= 0) return [];
    return this.db.transaction(() => {
      const rows = (this.stmt.queued.all(limit) as Row[]).map(execution);
      return rows
        .map((row) => this.transitionSync(row.id, 'claim', { nodeId, leaseMs }))
        .filter((c): c is Change => c !== null);
    })();
  }

  async write(fence: Fence, write: StoreWrite): Promise<{ change: Change | null; pageStored: boolean | null }> {
    return this.db.transaction(() => {
      const row = this.read(fence.executionId);
      const now = Date.now();
      const planned = planWrite(row, fence, write, now);
      const pageStored = write.page ? this.upsertPage(write.page, fence.executionId, now) : null;
      if (write.message) chat.writeChatMessageText(this.db, write.message);
      for (const [key, value] of Object.entries(write.checkpoint ?? {})) {
        if (value === null) this.stmt.deleteCheckpoint.run(fence.executionId, key);
        else this.stmt.putCheckpoint.run(fence.executionId, key, json(value));
      }
      this.save(row!, planned);
      return {
        change: { execution: planned.next, events: planned.event ? [planned.event] : [] },
        pageStored,
      };
    })();
  }

  async loadCheckpoint(executionId: string): Promise<Map<string, unknown>> {
    const rows = this.stmt.checkpoint.all(executionId) as { key: string; value: string }[];
    return new Map(rows.map((r) => [r.key, parse(r.value)]));
  }

  async renewLeases(nodeId: string, ids: readonly string[], leaseMs: number): Promise<Execution[]> {
    const until = Date.now() + leaseMs;
    return this.db.transaction(() =>
      ids.flatMap((id) => {
        this.stmt.renewLease.run(until, id, nodeId);
        const row = this.read(id);
        return row ? [row] : [];
      }),
    )();
  }

  async listOrphans(now: number, all: boolean): Promise<Execution[]> {
    return (this.stmt.orphans.all(all ? 1 : 0, now) as Row[]).map(execution);
  }

  async searchKnowledge(query: string, limit: number, options?: KnowledgeSearchOptions): Promise<KnowledgeHit[]> {
    return knowledge.searchKnowledge(this.db, query, limit, options);
  }

  async listSources(): Promise<KnowledgeSource[]> {
    return knowledge.listSources(this.db);
  }

  async getSource(id: string): Promise<KnowledgeSource | null> {
    return knowledge.getSource(this.db, id);
  }

  async deleteSource(id: string): Promise<boolean> {
    return knowledge.deleteSource(this.db, id);
  }

  async createChatSession(title: string): Promise<ChatSession> {
    return chat.createChatSession(this.db, title);
  }

  async getChatSession(id: string): Promise<ChatSession | null> {
    return chat.getChatSession(this.db, id);
  }

  async listChatSessions(limit: number): Promise<ChatSession[]> {
    return chat.listChatSessions(this.db, limit);
  }

  async addChatMessages(sessionId: string, messages: readonly NewChatMessage[]): Promise<ChatMessage[]> {
    return chat.addChatMessages(this.db, sessionId, messages);
  }

  async setChatMessageExecution(messageId: string, executionId: string): Promise<void> {
    chat.setChatMessageExecution(this.db, messageId, executionId);
  }

  async listChatMessages(sessionId: string, last?: number): Promise<ChatMessage[]> {
    return chat.listChatMessages(this.db, sessionId, last);
  }

  private read(id: string): Execution | null {
    const row = this.stmt.getExecution.get(id) as Row | undefined;
    return row ? execution(row) : null;
  }

  /** Writes a planned row, conditional on the row still being what the plan was made from. */
  private save(prev: Execution, { next, event }: Planned): void {
    const result = this.stmt.updateExecution.run({
      id: next.id,
      status: next.status,
      result: next.result === null ? null : json(next.result),
      startedAt: next.startedAt,
      finishedAt: next.finishedAt,
      cancelRequestedAt: next.cancelRequestedAt,
      cancelReason: next.cancelReason,
      error: next.error,
      attempt: next.attempt,
      lastSeq: next.lastSeq,
      node: next.node,
      leaseUntil: next.leaseUntil,
      progress: json(next.progress),
      cancelledBy: next.cancelledBy,
      expectStatus: prev.status,
      expectAttempt: prev.attempt,
    });
    if (result.changes !== 1) throw new Error(`execution ${next.id} changed underneath a transaction`);
    if (event) this.stmt.insertEvent.run({ ...event, progress: json(event.progress) });
  }

  private upsertPage(page: PageInput, executionId: string, now: number): boolean {
    let source = this.stmt.sourceByUrl.get(page.sourceUrl) as { id: string } | undefined;
    if (!source) {
      source = { id: randomUUID() };
      this.stmt.insertSource.run(source.id, page.sourceUrl, new URL(page.sourceUrl).host, now);
    }
    this.stmt.touchSource.run(now, executionId, source.id);
    const existing = this.stmt.pageByUrl.get(page.url) as { id: number; content_hash: string } | undefined;
    if (existing?.content_hash === page.contentHash) return false;
    let pageId: number | bigint;
    if (existing) {
      pageId = existing.id;
      this.stmt.updatePage.run(source.id, page.title, page.contentHash, page.markdown, executionId, now, pageId);
      this.stmt.deleteChunks.run(pageId);
    } else {
      pageId = this.stmt.insertPage.run(source.id, page.url, page.title, page.contentHash, page.markdown, executionId, now)
        .lastInsertRowid;
    }
    page.chunks.forEach((chunk, i) => this.stmt.insertChunk.run(pageId, i, chunk.heading, chunk.text));
    return true;
  }
}
