import { randomUUID } from 'node:crypto';
import pg from 'pg';
import { initialProgress } from '../../executions/progress.ts';
import type { TransitionName } from '../../executions/status.ts';
import { StoreUnavailableError, type Execution, type ExecutionEvent, type Fence, type Change, type ExecutionFilter, type HistoryPage, type HistoryQuery, type NewExecution, type TransitionOptions } from '../../executions/types.ts';
import { firstEvent, planPriority, planTransition, planWrite, type Planned } from '../../executions/plan.ts';
import { withPageChunks, writeAsStored, type Store, type StoreWrite } from '../store.ts';
import { migrate } from './migrations.ts';
import { PostgresChat, completeChatMessage } from './postgres-chat.ts';
import { PostgresKnowledge, upsertPage } from './postgres-knowledge.ts';
import { toEvent as eventOf, toExecution as executionOf, type Row } from '../rows.ts';
import { isConnectionError, json, pgTypes, text } from './rows.ts';

// pg parses jsonb columns itself.
const asIs = (value: unknown): unknown => value;
/** The database's clock in epoch milliseconds: every node's lease and event times come from it. */
const DB_NOW = `(extract(epoch from clock_timestamp()) * 1000)::bigint`;
const toExecution = (r: Row): Execution => executionOf(r, asIs);
const toEvent = (r: Row): ExecutionEvent => eventOf(r, asIs);

type Client = pg.PoolClient;

export interface PostgresStoreOptions {
  /** Connections of this node's pool. */
  maxConnections?: number;
  /** Shown in pg_stat_activity, to tell the nodes apart. */
  applicationName?: string;
  /** A connection failed while idle (e.g. the server restarted); the pool replaces it on the next query. */
  onError?: (error: Error) => void;
  /** How many times `migrate` tries when the connection fails under it (default 6: about 6 s of back-off in all). */
  migrateTries?: number;
  /** Called before each retry of `migrate` after a connection error, with the delay before it. */
  onMigrateRetry?: (error: Error, tried: number, delayMs: number) => void;
}

/** The first back-off of a migration retry; it doubles each time, up to MIGRATE_MAX_DELAY_MS. */
const MIGRATE_BASE_DELAY_MS = 200;
const MIGRATE_MAX_DELAY_MS = 3_200;

/**
 * The shared store for several nodes: PostgreSQL through a pg Pool. Each multi-statement operation
 * runs in one transaction on one client; a transition locks the row (SELECT ... FOR UPDATE), plans
 * the move with plan.ts and writes it with an UPDATE that repeats the status and attempt condition.
 * Claims skip rows another node has locked (FOR UPDATE SKIP LOCKED), so no execution is claimed twice.
 */
export class PostgresStore implements Store {
  readonly dialect = 'postgres' as const;
  /** Other nodes share this database: only executions whose lease ran out are orphans. */
  readonly exclusive = false;
  readonly pool: pg.Pool;
  readonly knowledge: PostgresKnowledge;
  readonly chat: PostgresChat;
  private migrated: Promise<void> | null = null;
  private readonly migrateTries: number;
  private readonly onMigrateRetry: NonNullable<PostgresStoreOptions['onMigrateRetry']>;

  constructor(connectionString: string, options: PostgresStoreOptions = {}) {
    this.migrateTries = Math.max(1, options.migrateTries ?? 6);
    this.onMigrateRetry = options.onMigrateRetry ?? (() => {});
    this.pool = new pg.Pool({
      connectionString,
      max: options.maxConnections ?? 20,
      application_name: options.applicationName ?? 'sluice',
      connectionTimeoutMillis: 10_000,
      keepAlive: true,
      types: pgTypes,
    });
    // Without a listener an idle client's error (server restart, network) would crash the process.
    this.pool.on('error', (error) => options.onError?.(error));
    this.knowledge = new PostgresKnowledge(this.pool);
    this.chat = new PostgresChat(this.pool, (fn) => this.tx(fn));
  }

  /**
   * Applies the pending migrations. A connection that fails under them (a dropped connection, a
   * database restarting at start-up) is retried with back-off, a bounded number of times: the
   * migrations run in one transaction and skip what is applied, so another try is always safe.
   * SQL the database refuses is not retried.
   */
  async migrate(): Promise<void> {
    this.migrated ??= this.migrateWithRetries().catch((error: unknown) => {
      this.migrated = null;
      throw error;
    });
    return this.migrated;
  }

  private async migrateWithRetries(): Promise<void> {
    for (let tried = 1; ; tried++) {
      try {
        return await this.migrateOnce();
      } catch (error) {
        if (!isConnectionError(error)) throw error;
        const message = error instanceof Error ? error.message : String(error);
        if (tried >= this.migrateTries) {
          throw new StoreUnavailableError(new Error(`the migrations gave up after ${tried} tries, each losing its connection (last: ${message})`, { cause: error }));
        }
        const delayMs = Math.min(MIGRATE_MAX_DELAY_MS, MIGRATE_BASE_DELAY_MS * 2 ** (tried - 1));
        this.onMigrateRetry(error as Error, tried, delayMs);
        await new Promise((resolve) => setTimeout(resolve, delayMs));
      }
    }
  }

  private async migrateOnce(): Promise<void> {
    const client = await this.pool.connect();
    // As in `once`: a checked-out client has no pool listener, and its connection error (also
    // thrown by the query) would otherwise crash the process.
    const ignore = (): void => {};
    client.on('error', ignore);
    let broken: Error | undefined;
    try {
      await migrate(client);
    } catch (error) {
      broken = error as Error;
      throw error;
    } finally {
      client.off('error', ignore);
      client.release(broken);
    }
  }

  async close(): Promise<void> {
    if (!this.pool.ended) await this.pool.end();
  }

  async ping(): Promise<void> {
    await this.pool.query('SELECT 1');
  }

  async createExecution(input: NewExecution): Promise<Change> {
    const progress = initialProgress();
    return this.tx(async (c, now) => {
      const { rows } = await c.query<Row>(
        `INSERT INTO executions (id, kind, status, title, session_id, input, created_at, attempt, last_seq, progress, created_by, priority)
         VALUES ($1, $2, 'QUEUED', $3, $4, $5, $6, 1, 1, $7, $8, $9) RETURNING *`,
        [randomUUID(), input.kind, text(input.title), input.sessionId, json(input.input), now, json(progress), input.createdBy, input.priority ?? 0],
      );
      const execution = toExecution(rows[0]!);
      const event = firstEvent(execution, now);
      await insertEvent(c, event);
      return { execution, events: [event] };
    });
  }

  async getExecution(id: string): Promise<Execution | null> {
    const { rows } = await this.query<Row>('SELECT * FROM executions WHERE id = $1', [id]);
    return rows[0] ? toExecution(rows[0]) : null;
  }

  async listExecutions(filter: ExecutionFilter): Promise<Execution[]> {
    const where: string[] = [];
    const params: unknown[] = [];
    const param = (value: unknown): string => `$${params.push(value)}`;
    if (filter.statuses?.length) where.push(`status = ANY(${param(filter.statuses)})`);
    if (filter.kind) where.push(`kind = ${param(filter.kind)}`);
    if (filter.sessionId) where.push(`session_id = ${param(filter.sessionId)}`);
    const sql = `SELECT * FROM executions ${where.length ? `WHERE ${where.join(' AND ')}` : ''}
      ORDER BY ord ${filter.oldestFirst ? 'ASC' : 'DESC'} LIMIT ${param(filter.limit ?? null)}`;
    const { rows } = await this.query<Row>(sql, params);
    return rows.map(toExecution);
  }

  async historyPage(query: HistoryQuery): Promise<HistoryPage> {
    const where: string[] = [];
    const params: unknown[] = [];
    const param = (value: unknown): string => `$${params.push(value)}`;
    if (query.statuses?.length) where.push(`status = ANY(${param(query.statuses)})`);
    if (query.kind) where.push(`kind = ${param(query.kind)}`);
    if (query.sessionId) where.push(`session_id = ${param(query.sessionId)}`);
    // lower() under COLLATE "C" folds ASCII letters only, as SQLite's does; strpos() reads no pattern syntax.
    if (query.titleContains) where.push(`strpos(lower(title COLLATE "C"), ${param(query.titleContains)}) > 0`);
    const matching = where.length ? `WHERE ${where.join(' AND ')}` : '';
    const counted = this.query<{ total: string }>(`SELECT count(*) AS total FROM executions ${matching}`, [...params]);
    if (query.beforeOrd != null) where.push(`ord < ${param(query.beforeOrd)}`);
    const page = this.query<Row>(
      `SELECT * FROM executions ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY ord DESC LIMIT ${param(query.limit)}`,
      params,
    );
    const [{ rows: totals }, { rows }] = await Promise.all([counted, page]);
    return { total: Number(totals[0]!.total), rows: rows.map((row) => ({ execution: toExecution(row), ord: Number(row.ord) })) };
  }

  async listEvents(executionId: string, afterSeq: number, limit?: number): Promise<ExecutionEvent[]> {
    const { rows } = await this.query<Row>(
      'SELECT * FROM execution_events WHERE execution_id = $1 AND seq > $2 ORDER BY seq LIMIT $3',
      [executionId, afterSeq, limit === undefined || limit < 0 ? null : limit],
    );
    return rows.map(toEvent);
  }

  async transition(id: string, name: TransitionName | readonly TransitionName[], options: TransitionOptions = {}): Promise<Change | null> {
    const lock = options.skipLocked ? 'skip' : 'wait';
    return this.txLocking(id, async (c, row, now) => {
      if (!row) return null;
      const planned = planTransition(row, name, options, now);
      if (!planned) return null;
      await save(c, row, planned);
      return { execution: planned.next, events: [planned.event!] };
    }, 1, lock);
  }

  async setPriority(id: string, priority: number): Promise<Change | null> {
    return this.txLocking(id, async (c, row) => {
      const planned = row && planPriority(row, priority, Date.now());
      if (!row || !planned) return null;
      await save(c, row, planned);
      return { execution: planned.next, events: [planned.event!] };
    });
  }

  async queuePosition(id: string): Promise<number | null> {
    const { rows } = await this.query<{ position: string }>(
      `SELECT (SELECT count(*) FROM executions q WHERE q.status = 'QUEUED'
          AND (q.priority > me.priority OR (q.priority = me.priority AND q.ord < me.ord))) + 1 AS position
       FROM executions me WHERE me.id = $1 AND me.status = 'QUEUED'`,
      [id],
    );
    return rows[0] ? Number(rows[0].position) : null;
  }

  async claim(nodeId: string, limit: number, leaseMs: number): Promise<Change[]> {
    if (limit <= 0) return [];
    return this.tx(async (c, now) => {
      // Rows another node is claiming right now are skipped, not waited for: no claim twice, no queue.
      const { rows } = await c.query<Row>(
        `SELECT * FROM executions WHERE status = 'QUEUED' ORDER BY priority DESC, ord LIMIT $1 FOR UPDATE SKIP LOCKED`,
        [limit],
      );
      const changes: Change[] = [];
      for (const row of rows.map(toExecution)) {
        const planned = planTransition(row, 'claim', { nodeId, leaseMs }, now);
        if (!planned) continue;
        await save(c, row, planned);
        changes.push({ execution: planned.next, events: [planned.event!] });
      }
      return changes;
    });
  }

  async write(fence: Fence, write: StoreWrite): Promise<{ change: Change | null; pageStored: boolean | null }> {
    const { change, pagesStored } = await this.writeMany(fence, [write]);
    return { change, pageStored: pagesStored[0]! };
  }

  async writeMany(fence: Fence, writes: readonly StoreWrite[]): Promise<{ change: Change | null; pagesStored: (boolean | null)[] }> {
    if (writes.length === 0) return { change: null, pagesStored: [] };
    const chunked = withPageChunks(writes);
    // The pages first, the execution's row locked last, just before its own writes and the commit:
    // a group's page writes take many round trips, and while they held the row's lock the node's
    // lease renewal (and any cancel, pause or recovery of the row) waited behind them; under load the
    // renewal came too late and the node fenced its own code. The fence is still decided under the
    // lock, before anything commits: a group refused there is rolled back whole, its pages with it.
    return this.tx(async (c, pagesNow) => {
      const pagesStored: (boolean | null)[] = [];
      for (const write of chunked) pagesStored.push(write.page ? await upsertPage(c, write.page, fence.executionId, pagesNow) : null);
      const results = (await c.query(
        `SELECT * FROM executions WHERE id = ${c.escapeLiteral(fence.executionId)} FOR UPDATE; SELECT ${DB_NOW}::float8 AS now`,
      )) as unknown as pg.QueryResult[];
      const locked = (results[0] as pg.QueryResult<Row>).rows[0];
      let row = locked ? toExecution(locked) : null;
      const now = Math.floor(Number((results[1] as pg.QueryResult<{ now: number }>).rows[0]!.now));
      const events: ExecutionEvent[] = [];
      // the group's checkpoint entries in one statement at the end, a later write's value of a key winning
      const checkpoint: Record<string, unknown> = {};
      // pages stored per counting key (whenStored.countIn), added after the entries
      const counted: Record<string, number> = {};
      for (const [i, original] of chunked.entries()) {
        const pageStored = pagesStored[i]!;
        const write = writeAsStored(original, pageStored, row?.progress ?? null);
        const planned = planWrite(row, fence, write, now); // throws FencedError: the whole group rolls back
        if (write.message) await completeChatMessage(c, write.message);
        Object.assign(checkpoint, write.checkpoint);
        const countIn = pageStored ? write.whenStored?.countIn : undefined;
        if (countIn) counted[countIn] = (counted[countIn] ?? 0) + 1;
        await save(c, row!, planned);
        if (planned.event) events.push(planned.event);
        row = planned.next;
      }
      await writeCheckpoint(c, fence.executionId, checkpoint);
      await countCheckpoint(c, fence.executionId, counted);
      return { change: { execution: row!, events }, pagesStored };
    });
  }

  async loadCheckpoint(executionId: string): Promise<Map<string, unknown>> {
    const { rows } = await this.query<{ key: string; value: unknown }>(
      'SELECT key, value FROM checkpoints WHERE execution_id = $1',
      [executionId],
    );
    return new Map(rows.map((r) => [r.key, r.value]));
  }

  async renewLeases(nodeId: string, ids: readonly string[], leaseMs: number, options: { skipLocked?: boolean } = {}): Promise<Execution[]> {
    if (ids.length === 0) return [];
    // One statement: renew what is still ours, and read every other given row as it is now (the
    // re-read through which a cancel whose message was lost reaches its node). With skipLocked, a
    // row of ours that another transaction holds locked (a write of its own code, a cancel, a
    // sweep's takeover) is neither waited for, nor renewed, nor answered. A row of ours as the
    // statement's snapshot saw it, no longer ours once its lock was ours (a transaction we waited
    // for moved it), is not answered either: read from that snapshot, it would look renewed when it
    // had moved on. The next beat reads it as it is.
    const lock = options.skipLocked ? 'FOR UPDATE SKIP LOCKED' : 'FOR UPDATE';
    const { rows } = await this.query<Row>(
      `WITH ours AS (
         SELECT id FROM executions WHERE id = ANY($1) AND node = $2 AND status IN ('RUNNING', 'CANCELLING')
       ), lockable AS (
         SELECT id FROM executions WHERE id IN (SELECT id FROM ours) AND node = $2 AND status IN ('RUNNING', 'CANCELLING')
         ${lock}
       ), renewed AS (
         UPDATE executions SET lease_until = ${DB_NOW} + $3
         WHERE id IN (SELECT id FROM lockable)
         RETURNING *
       )
       SELECT * FROM renewed
       UNION ALL
       SELECT * FROM executions WHERE id = ANY($1) AND id NOT IN (SELECT id FROM ours)`,
      [ids, nodeId, leaseMs],
    );
    return rows.map(toExecution);
  }

  async listOrphans(all: boolean): Promise<Execution[]> {
    const { rows } = await this.query<Row>(
      `SELECT * FROM executions WHERE status IN ('RUNNING', 'CANCELLING') AND ($1 OR lease_until IS NULL OR lease_until < ${DB_NOW})
       ORDER BY ord`,
      [all],
    );
    return rows.map(toExecution);
  }

  /**
   * Runs `fn` in one transaction on one client. A connection that broke before COMMIT was sent left
   * nothing behind (the server rolls the transaction back), so the whole transaction is tried once
   * more on a fresh connection: after a server restart the pool's old connections fail one by one.
   * A failure at COMMIT is in doubt and is not retried. The broken client is destroyed, not reused.
   */
  private tx<T>(fn: (client: Client, now: number) => Promise<T>): Promise<T> {
    return this.txLocking(null, (client, _row, now) => fn(client, now));
  }

  /**
   * A transaction that starts by locking one execution row (SELECT ... FOR UPDATE) and hands it to
   * `fn`. BEGIN and the lock go in one round trip (a simple-protocol query, the id as an escaped
   * literal): on a busy machine every round trip to the server costs a context switch.
   */
  private async txLocking<T>(
    lockId: string | null,
    fn: (client: Client, row: Execution | null, now: number) => Promise<T>,
    retries = 1,
    lock: 'wait' | 'skip' = 'wait',
  ): Promise<T> {
    let committing = false;
    try {
      return await this.once(lockId, fn, () => (committing = true), lock);
    } catch (error) {
      if (!isConnectionError(error)) throw error;
      if (!committing && retries > 0) return this.txLocking(lockId, fn, retries - 1, lock);
      throw new StoreUnavailableError(error);
    }
  }

  /** `lock` "skip": a row another transaction has locked is handed to `fn` as null (SKIP LOCKED), not waited for. */
  private async once<T>(
    lockId: string | null,
    fn: (client: Client, row: Execution | null, now: number) => Promise<T>,
    onCommit: () => void,
    lock: 'wait' | 'skip' = 'wait',
  ): Promise<T> {
    const client = await this.pool.connect();
    // A checked-out client has no pool listener; its connection error is also thrown by the query.
    const ignore = (): void => {};
    client.on('error', ignore);
    let broken: Error | undefined;
    try {
      // Times are the database's (one clock for every node), read once the row is locked: a lease
      // is compared with the time at which the decision is made, under the lock.
      const locking = lockId === null ? '' : `SELECT * FROM executions WHERE id = ${client.escapeLiteral(lockId)} FOR UPDATE${lock === 'skip' ? ' SKIP LOCKED' : ''};`;
      const results = (await client.query(`BEGIN; ${locking} SELECT ${DB_NOW}::float8 AS now`)) as unknown as pg.QueryResult[];
      const locked = lockId === null ? null : (results[1] as pg.QueryResult<Row>);
      const row = locked?.rows[0] ? toExecution(locked.rows[0]) : null;
      const now = Math.floor(Number((results.at(-1) as pg.QueryResult<{ now: number }>).rows[0]!.now));
      const result = await fn(client, row, now);
      onCommit();
      await client.query('COMMIT');
      return result;
    } catch (error) {
      await client.query('ROLLBACK').catch((rollbackError: Error) => (broken = rollbackError));
      throw error;
    } finally {
      client.off('error', ignore);
      client.release(broken);
    }
  }

  /** One idempotent statement outside a transaction, tried once more on a fresh connection if the connection broke. */
  private async query<R extends pg.QueryResultRow>(sql: string, params: unknown[]): Promise<pg.QueryResult<R>> {
    try {
      return await this.pool.query<R>(sql, params);
    } catch (error) {
      if (!isConnectionError(error)) throw error;
      return this.pool.query<R>(sql, params).catch((again: unknown) => {
        throw isConnectionError(again) ? new StoreUnavailableError(again) : again;
      });
    }
  }
}

async function insertEvent(c: Client, e: ExecutionEvent): Promise<void> {
  await c.query(
    `INSERT INTO execution_events (execution_id, seq, at, type, status, progress, message) VALUES ($1, $2, $3, $4, $5, $6, $7)`,
    eventParams(e),
  );
}

/** Writes a planned row, conditional on the row still being what the plan was made from. */
async function save(c: Client, prev: Execution, { next, event }: Planned): Promise<void> {
  const update = `UPDATE executions SET
       status = $2, result = $3, started_at = $4, finished_at = $5, cancel_requested_at = $6, cancel_reason = $7,
       error = $8, attempt = $9, last_seq = $10, node = $11, lease_until = $12, progress = $13, cancelled_by = $14,
       priority = $17
     WHERE id = $1 AND status = $15 AND attempt = $16`;
  // With an event, one statement writes both (one round trip); it inserts the event only if the row matched.
  const { rowCount } = await c.query(
    event
      ? `WITH updated AS (${update} RETURNING id)
         INSERT INTO execution_events (execution_id, seq, at, type, status, progress, message)
         SELECT id, $18, $19, $20, $21, $22, $23 FROM updated`
      : update,
    [
      next.id,
      next.status,
      next.result === null ? null : json(next.result),
      next.startedAt,
      next.finishedAt,
      next.cancelRequestedAt,
      next.cancelReason === null ? null : text(next.cancelReason),
      next.error === null ? null : text(next.error),
      next.attempt,
      next.lastSeq,
      next.node,
      next.leaseUntil,
      json(next.progress),
      next.cancelledBy,
      prev.status,
      prev.attempt,
      next.priority,
      ...(event ? eventParams(event).slice(1) : []),
    ],
  );
  if (rowCount !== 1) throw new Error(`execution ${next.id} changed underneath a transaction`);
}

const eventParams = (e: ExecutionEvent): unknown[] => [
  e.executionId,
  e.seq,
  e.at,
  e.type,
  e.status,
  json(e.progress),
  e.message === null ? null : text(e.message),
];

async function writeCheckpoint(c: Client, executionId: string, entries: Record<string, unknown>): Promise<void> {
  const keys = Object.keys(entries);
  if (keys.length === 0) return;
  const removed = keys.filter((k) => entries[k] === null);
  const kept = keys.filter((k) => entries[k] !== null);
  if (removed.length) await c.query('DELETE FROM checkpoints WHERE execution_id = $1 AND key = ANY($2)', [executionId, removed]);
  if (kept.length)
    await c.query(
      `INSERT INTO checkpoints (execution_id, key, value)
       SELECT $1, u.key, u.value::jsonb FROM unnest($2::text[], $3::text[]) AS u(key, value)
       ON CONFLICT (execution_id, key) DO UPDATE SET value = excluded.value`,
      [executionId, kept, kept.map((k) => json(entries[k]))],
    );
}


/** Adds each count to its checkpoint entry (a number, 0 when absent), after the group's entries. */
async function countCheckpoint(c: Client, executionId: string, counts: Record<string, number>): Promise<void> {
  const keys = Object.keys(counts);
  if (keys.length === 0) return;
  await c.query(
    `INSERT INTO checkpoints (execution_id, key, value)
     SELECT $1, u.key, to_jsonb(u.n) FROM unnest($2::text[], $3::int[]) AS u(key, n)
     ON CONFLICT (execution_id, key) DO UPDATE SET value = to_jsonb((checkpoints.value #>> '{}')::bigint + (excluded.value #>> '{}')::bigint)`,
    [executionId, keys, keys.map((k) => counts[k])],
  );
}
