import { randomUUID } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import Database from 'better-sqlite3';
import { initialProgress } from '../../executions/progress.ts';
import type { TransitionName } from '../../executions/status.ts';
import type { Execution, ExecutionEvent, Fence, Change, ExecutionFilter, HistoryPage, HistoryQuery, NewExecution, TransitionOptions } from '../../executions/types.ts';
import { firstEvent, planPriority, planTransition, type Planned } from '../../executions/plan.ts';
import type { Store, StoreWrite } from '../store.ts';
import { toEvent, toExecution, type Row } from '../rows.ts';
import { SQLITE_MIGRATIONS } from './migrations.ts';
import { statement, transaction, type MainTurn } from './statements.ts';
import { SqliteChat } from './sqlite-chat.ts';
import { SqliteKnowledge } from './sqlite-knowledge.ts';
import { PageWriter } from './sqlite-page-writer.ts';
import { writeManySync, type WriteManyResult } from './sqlite-writes.ts';

const json = (value: unknown): string => JSON.stringify(value ?? null);
const parse = (text: unknown): unknown => (typeof text === 'string' ? JSON.parse(text) : null);
const execution = (r: Row): Execution => toExecution(r, parse);
const event = (r: Row): ExecutionEvent => toEvent(r, parse);

/** The statements of the executions slice, prepared once per database by statement(). */
const SQL = {
  getExecution: 'SELECT * FROM executions WHERE id = ?',
  insertExecution: `INSERT INTO executions
    (id, ord, kind, status, title, session_id, input, created_at, attempt, last_seq, progress, created_by, priority)
    VALUES (@id, (SELECT coalesce(max(ord), 0) + 1 FROM executions), @kind, 'QUEUED', @title, @sessionId,
            @input, @createdAt, 1, 0, @progress, @createdBy, @priority)`,
  queuePosition: `SELECT (SELECT count(*) FROM executions q WHERE q.status = 'QUEUED'
      AND (q.priority > me.priority OR (q.priority = me.priority AND q.ord < me.ord))) + 1 AS position
    FROM executions me WHERE me.id = ? AND me.status = 'QUEUED'`,
  updateExecution: `UPDATE executions SET
      status = @status, result = @result, started_at = @startedAt, finished_at = @finishedAt,
      cancel_requested_at = @cancelRequestedAt, cancel_reason = @cancelReason, error = @error,
      attempt = @attempt, last_seq = @lastSeq, node = @node, lease_until = @leaseUntil,
      progress = @progress, cancelled_by = @cancelledBy, priority = @priority
    WHERE id = @id AND status = @expectStatus AND attempt = @expectAttempt`,
  insertEvent: `INSERT INTO execution_events (execution_id, seq, at, type, status, progress, message)
    VALUES (@executionId, @seq, @at, @type, @status, @progress, @message)`,
  listEvents: 'SELECT * FROM execution_events WHERE execution_id = ? AND seq > ? ORDER BY seq LIMIT ?',
  queued: `SELECT * FROM executions WHERE status = 'QUEUED' ORDER BY priority DESC, ord LIMIT ?`,
  // What every change of a row moves: a transition or a job write with an event (last_seq), a
  // lease renewal (lease_until). A job write is fenced on status and attempt.
  rowVersion: 'SELECT last_seq, status, attempt, lease_until FROM executions WHERE id = ?',
  renewLease: `UPDATE executions SET lease_until = ? WHERE id = ? AND node = ? AND status IN ('RUNNING', 'CANCELLING')`,
  orphans: `SELECT * FROM executions WHERE status IN ('RUNNING', 'CANCELLING') AND (? OR lease_until IS NULL OR lease_until < ?) ORDER BY ord`,
  checkpoint: 'SELECT key, value FROM checkpoints WHERE execution_id = ?',
} as const;

interface QueuedWrite {
  fence: Fence;
  writes: readonly StoreWrite[];
  resolve(result: { change: Change; pagesStored: (boolean | null)[] }): void;
  reject(error: unknown): void;
}

export interface SqliteStoreOptions {
  /**
   * Job writes that store pages go to a thread of their own with a second connection (see
   * PageWriter), not the calling thread; ignored for ':memory:'. Default false.
   */
  pageWriterThread?: boolean;
  /** Tests only: pauses the writer thread inside each transaction (see PageWriter). */
  pageWriterHold?: SharedArrayBuffer;
}

/** The embedded store: one SQLite file (WAL) under the data folder; no server to install. */
export class SqliteStore implements Store {
  readonly dialect = 'sqlite' as const;
  readonly exclusive = true;
  readonly db: Database.Database;
  readonly knowledge: SqliteKnowledge;
  readonly chat: SqliteChat;
  private queued: QueuedWrite[] = [];
  /** The row each running execution's last job write on this connection left (see rowForWrite). */
  private readonly written = new Map<string, Execution>();
  private readonly pageWriter: PageWriter | null;
  /** Every call of this connection runs through it: between two transactions of the page writer thread. */
  private readonly turn: MainTurn;
  /**
   * A call of the store in its turn, after the queued job writes are committed (drain): calls apply
   * in the order they were made.
   */
  private readonly inOrder: MainTurn = (fn) =>
    this.turn(() => {
      this.drain();
      return fn();
    });

  constructor(
    readonly file: string,
    options: SqliteStoreOptions = {},
  ) {
    if (file !== ':memory:') mkdirSync(dirname(file), { recursive: true });
    this.db = new Database(file);
    this.db.pragma('journal_mode = WAL');
    this.db.pragma('synchronous = NORMAL');
    this.db.pragma('foreign_keys = ON');
    this.db.pragma('busy_timeout = 5000');
    this.migrateSync();
    this.pageWriter = options.pageWriterThread && file !== ':memory:' ? new PageWriter(file, options.pageWriterHold) : null;
    this.turn = this.pageWriter ? (fn) => this.pageWriter!.exclusive(fn) : async (fn) => fn();
    this.knowledge = new SqliteKnowledge(this.db, this.inOrder);
    this.chat = new SqliteChat(this.db, this.inOrder);
  }

  /** Starts the page writer thread ahead of the first page write (a server calls it as a crawl starts). */
  warm(): void {
    this.pageWriter?.start();
  }

  /** Job writes that store pages run on the page writer thread (where a page given without chunks is split). */
  get writesPagesOnThread(): boolean {
    return this.pageWriter !== null;
  }

  private migrateSync(): void {
    const version = this.db.pragma('user_version', { simple: true }) as number;
    const pending = SQLITE_MIGRATIONS.slice(version);
    transaction(this.db, () => {
      pending.forEach((sql, i) => {
        this.db.exec(sql);
        this.db.pragma(`user_version = ${version + i + 1}`);
      });
    });
  }

  async migrate(): Promise<void> {
    return this.inOrder(() => {
      this.migrateSync();
    });
  }

  async close(): Promise<void> {
    await this.turn(() => this.drain());
    await this.pageWriter?.close();
    this.drain();
    if (this.db.open) this.db.close();
  }

  async ping(): Promise<void> {
    return this.inOrder(() => {
      statement(this.db, 'SELECT 1').get();
    });
  }

  async createExecution(input: NewExecution): Promise<Change> {
    return this.inOrder(() => {
      const id = randomUUID();
      const now = Date.now();
      return transaction(this.db, () => {
        statement(this.db, SQL.insertExecution).run({
          id,
          kind: input.kind,
          title: input.title,
          sessionId: input.sessionId,
          input: json(input.input),
          createdAt: now,
          progress: json(initialProgress()),
          createdBy: input.createdBy,
          priority: input.priority ?? 0,
        });
        const row = this.read(id)!;
        const execution = { ...row, lastSeq: 1 };
        const event = firstEvent(execution, now);
        this.save(row, { next: execution, event });
        return { execution, events: [event] };
      });
    });
  }

  async getExecution(id: string): Promise<Execution | null> {
    return this.inOrder(() => {
      return this.read(id);
    });
  }

  async listExecutions(filter: ExecutionFilter): Promise<Execution[]> {
    return this.inOrder(() => {
      const { where, params } = matchExecutions(filter);
      const sql = `SELECT * FROM executions ${where.length ? `WHERE ${where.join(' AND ')}` : ''}
        ORDER BY ord ${filter.oldestFirst ? 'ASC' : 'DESC'} LIMIT ?`;
      params.push(filter.limit ?? -1);
      return (statement(this.db, sql).all(...params) as Row[]).map(execution);
    });
  }

  async historyPage(query: HistoryQuery): Promise<HistoryPage> {
    return this.inOrder(() => {
      const { where, params } = matchExecutions(query);
      // SQLite's lower() folds ASCII letters only, as PostgreSQL's does under COLLATE "C"; instr() reads no pattern syntax.
      if (query.titleContains) {
        where.push('instr(lower(title), ?) > 0');
        params.push(query.titleContains);
      }
      const matching = where.length ? `WHERE ${where.join(' AND ')}` : '';
      return transaction(this.db, () => {
        const { total } = statement(this.db, `SELECT count(*) AS total FROM executions ${matching}`).get(...params) as { total: number };
        const before = query.beforeOrd == null ? '' : `${matching ? 'AND' : 'WHERE'} ord < ?`;
        const pageParams = query.beforeOrd == null ? [...params, query.limit] : [...params, query.beforeOrd, query.limit];
        const rows = statement(this.db, `SELECT * FROM executions ${matching} ${before} ORDER BY ord DESC LIMIT ?`).all(...pageParams) as Row[];
        return { total, rows: rows.map((row) => ({ execution: execution(row), ord: row.ord as number })) };
      });
    });
  }

  async listEvents(executionId: string, afterSeq: number, limit = -1): Promise<ExecutionEvent[]> {
    return this.inOrder(() => {
      return (statement(this.db, SQL.listEvents).all(executionId, afterSeq, limit) as Row[]).map(event);
    });
  }

  async transition(id: string, name: TransitionName | readonly TransitionName[], options: TransitionOptions = {}): Promise<Change | null> {
    return this.inOrder(() => {
      return transaction(this.db, () => this.transitionSync(id, name, options));
    });
  }

  private transitionSync(id: string, name: TransitionName | readonly TransitionName[], options: TransitionOptions): Change | null {
    const row = this.read(id);
    if (!row) return null;
    const planned = planTransition(row, name, options, Date.now());
    if (!planned) return null;
    this.save(row, planned);
    return { execution: planned.next, events: [planned.event!] };
  }

  async setPriority(id: string, priority: number): Promise<Change | null> {
    return this.inOrder(() => {
      return transaction(this.db, () => {
        const row = this.read(id);
        const planned = row && planPriority(row, priority, Date.now());
        if (!row || !planned) return null;
        this.save(row, planned);
        return { execution: planned.next, events: [planned.event!] };
      });
    });
  }

  async queuePosition(id: string): Promise<number | null> {
    return this.inOrder(() => {
      const row = statement(this.db, SQL.queuePosition).get(id) as { position: number } | undefined;
      return row ? row.position : null;
    });
  }

  async claim(nodeId: string, limit: number, leaseMs: number): Promise<Change[]> {
    return this.inOrder(() => {
      if (limit <= 0) return [];
      return transaction(this.db, () => {
        const rows = (statement(this.db, SQL.queued).all(limit) as Row[]).map(execution);
        return rows
          .map((row) => this.transitionSync(row.id, 'claim', { nodeId, leaseMs }))
          .filter((c): c is Change => c !== null);
      });
    });
  }

  async write(fence: Fence, write: StoreWrite): Promise<{ change: Change | null; pageStored: boolean | null }> {
    const { change, pagesStored } = await this.queueWrites(fence, [write]);
    return { change, pageStored: pagesStored[0]! };
  }

  async writeMany(fence: Fence, writes: readonly StoreWrite[]): Promise<{ change: Change | null; pagesStored: (boolean | null)[] }> {
    if (writes.length === 0) return { change: null, pagesStored: [] };
    return this.queueWrites(fence, writes);
  }

  /**
   * Group commit: the job writes made in one turn of the event loop (a hundred chat answers each
   * receiving a token from their model in the same poll) are committed in one transaction at the
   * end of that turn (setImmediate), each in its own savepoint, so one refused or failed write
   * refuses only itself. A commit costs far more than a write's rows (the WAL frames of every page
   * it touched), and the pages of a turn's writes are mostly the same ones.
   *
   * Each write's promise settles after the commit that holds it, so publish-after-commit holds.
   * Every other call of the store first commits what is queued (drain), so calls apply in the
   * order they were made, as they did when each write committed on its own.
   */
  private queueWrites(fence: Fence, writes: readonly StoreWrite[]): Promise<WriteManyResult> {
    // writes that store pages go to the page writer thread, one transaction per group, when there is one
    if (this.pageWriter && writes.some((write) => write.page)) return this.pageWriter.write(fence, writes);
    return new Promise((resolve, reject) => {
      this.queued.push({ fence, writes, resolve, reject });
      if (this.queued.length === 1) setImmediate(() => void this.turn(() => this.drain()));
    });
  }

  /** Commits the queued writes (see queueWrites); a no-op when none is queued. */
  drain(): void {
    if (this.queued.length === 0) return;
    const batch = this.queued;
    this.queued = [];
    const outcomes: ({ ok: ReturnType<SqliteStore['writeManySync']> } | { error: unknown })[] = [];
    try {
      transaction(this.db, () => {
        for (const item of batch) {
          try {
            outcomes.push({ ok: this.writeManySync(item.fence, item.writes) });
          } catch (error) {
            // SQLite rolls the whole transaction back on some errors (a full disk, I/O): then no write
            // of the batch holds, and the ones after this must not run outside a transaction.
            if (!this.db.inTransaction) throw error;
            outcomes.push({ error });
          }
        }
      });
    } catch (error) {
      for (const item of batch) item.reject(error);
      return;
    }
    batch.forEach((item, i) => {
      const outcome = outcomes[i]!;
      if ('ok' in outcome) item.resolve(outcome.ok);
      else item.reject(outcome.error);
    });
  }

  private writeManySync(fence: Fence, writes: readonly StoreWrite[]): WriteManyResult {
    const result = writeManySync(this.db, fence, writes, undefined, (id) => this.rowForWrite(id));
    this.written.set(fence.executionId, result.change.execution);
    return result;
  }

  /**
   * The row a job write of this connection is planned on. A running execution's rows come one write
   * after another, so the row its last write here left is kept, and taken while the row's version
   * columns still say so (a transition, the page writer thread, another store on the file, a
   * rolled-back batch: read again): a token write reads four columns instead of the whole row.
   */
  private rowForWrite(id: string): Execution | null {
    const kept = this.written.get(id);
    if (kept) {
      const now = statement(this.db, SQL.rowVersion).get(id) as { last_seq: number; status: string; attempt: number; lease_until: number | null } | undefined;
      if (now && now.last_seq === kept.lastSeq && now.status === kept.status && now.attempt === kept.attempt && now.lease_until === kept.leaseUntil) return kept;
      this.written.delete(id);
    }
    return this.read(id);
  }

  async loadCheckpoint(executionId: string): Promise<Map<string, unknown>> {
    return this.inOrder(() => {
      const rows = statement(this.db, SQL.checkpoint).all(executionId) as { key: string; value: string }[];
      return new Map(rows.map((r) => [r.key, parse(r.value)]));
    });
  }

  async renewLeases(nodeId: string, ids: readonly string[], leaseMs: number): Promise<Execution[]> {
    return this.inOrder(() => {
      const until = Date.now() + leaseMs;
      return transaction(this.db, () =>
        ids.flatMap((id) => {
          statement(this.db, SQL.renewLease).run(until, id, nodeId);
          const row = this.read(id);
          if (row && this.written.has(id)) this.written.set(id, row);
          return row ? [row] : [];
        }),
      );
    });
  }

  async listOrphans(all: boolean): Promise<Execution[]> {
    return this.inOrder(() => {
      // One process holds the data folder (see data-folder-lock.ts): its clock is the database's.
      return (statement(this.db, SQL.orphans).all(all ? 1 : 0, Date.now()) as Row[]).map(execution);
    });
  }

  private read(id: string): Execution | null {
    const row = statement(this.db, SQL.getExecution).get(id) as Row | undefined;
    return row ? execution(row) : null;
  }

  /** Writes a planned row, conditional on the row still being what the plan was made from. */
  private save(prev: Execution, { next, event }: Planned): void {
    this.written.delete(next.id);
    const result = statement(this.db, SQL.updateExecution).run({
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
      priority: next.priority,
      expectStatus: prev.status,
      expectAttempt: prev.attempt,
    });
    if (result.changes !== 1) throw new Error(`execution ${next.id} changed underneath a transaction`);
    if (event) statement(this.db, SQL.insertEvent).run({ ...event, progress: json(event.progress) });
  }
}

/** The WHERE terms and their parameters of a list or history query's status, kind and session filters. */
function matchExecutions(filter: Pick<ExecutionFilter, 'statuses' | 'kind' | 'sessionId'>): { where: string[]; params: unknown[] } {
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
  return { where, params };
}
