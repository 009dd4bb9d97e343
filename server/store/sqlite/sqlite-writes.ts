// The fenced job write of the SQLite store, as a function of a connection: SqliteStore runs it on
// its own connection, and the page writer thread (sqlite-page-writer.ts) on a second one, so a
// page's full-text indexing leaves the main thread with the same fencing and the same transaction.
import type Database from 'better-sqlite3';
import type { Change, Execution, ExecutionEvent, Fence } from '../../executions/types.ts';
import { planWrite, type Planned } from '../../executions/plan.ts';
import { withPageChunks, writeAsStored, type StoreWrite } from '../store.ts';
import { toExecution, type Row } from '../rows.ts';
import { statement, transaction } from './statements.ts';
import { completeChatMessage } from './sqlite-chat.ts';
import { upsertPage } from './sqlite-knowledge.ts';

const json = (value: unknown): string => JSON.stringify(value ?? null);
const parse = (text: unknown): unknown => (typeof text === 'string' ? JSON.parse(text) : null);

const SQL = {
  getExecution: 'SELECT * FROM executions WHERE id = ?',
  // A job write changes only these (planWrite): no indexed column in the SET list, so SQLite leaves
  // the indexes of the row alone (it rewrites an index entry for any SET column in it, changed or not).
  updateWritten: `UPDATE executions SET last_seq = @lastSeq, progress = @progress
    WHERE id = @id AND status = 'RUNNING' AND attempt = @attempt`,
  insertEvent: `INSERT INTO execution_events (execution_id, seq, at, type, status, progress, message)
    VALUES (@executionId, @seq, @at, @type, @status, @progress, @message)`,
  putCheckpoint: `INSERT INTO checkpoints (execution_id, key, value) VALUES (?, ?, ?)
    ON CONFLICT (execution_id, key) DO UPDATE SET value = excluded.value`,
  deleteCheckpoint: 'DELETE FROM checkpoints WHERE execution_id = ? AND key = ?',
  countCheckpoint: `INSERT INTO checkpoints (execution_id, key, value) VALUES (?, ?, '1')
    ON CONFLICT (execution_id, key) DO UPDATE SET value = CAST(CAST(value AS INTEGER) + 1 AS TEXT)`,
} as const;

/** What a group of job writes did: the row they left with their events, and per write whether its page was stored. */
export interface WriteManyResult {
  change: Change;
  pagesStored: (boolean | null)[];
}

/**
 * Applies a job's writes in order in one transaction (a savepoint inside an open one), each fenced
 * before anything of it is written; the first refused write (FencedError) rolls the whole group
 * back. `inTransaction` runs first inside it (tests pause the writer thread there).
 */
export function writeManySync(
  db: Database.Database,
  fence: Fence,
  writes: readonly StoreWrite[],
  inTransaction?: () => void,
  /** The row to plan on, when the caller knows it (else read here). */
  rowFor?: (id: string) => Execution | null,
): WriteManyResult {
  // split before the transaction: on the page writer thread, off the main thread (see PageInput.chunks)
  const chunked = withPageChunks(writes);
  return transaction(db, () => {
    inTransaction?.();
    let row = rowFor ? rowFor(fence.executionId) : readExecution(db, fence.executionId);
    const now = Date.now();
    const events: ExecutionEvent[] = [];
    const pagesStored = chunked.map((original) => {
      planWrite(row, fence, original, now); // fenced before anything is written
      const pageStored = original.page ? upsertPage(db, original.page, fence.executionId, now) : null;
      const write = writeAsStored(original, pageStored, row?.progress ?? null);
      const planned = planWrite(row, fence, write, now);
      if (write.message) completeChatMessage(db, write.message);
      for (const [key, value] of Object.entries(write.checkpoint ?? {})) {
        if (value === null) statement(db, SQL.deleteCheckpoint).run(fence.executionId, key);
        else statement(db, SQL.putCheckpoint).run(fence.executionId, key, json(value));
      }
      if (pageStored && write.whenStored?.countIn) statement(db, SQL.countCheckpoint).run(fence.executionId, write.whenStored.countIn);
      saveWritten(db, planned);
      if (planned.event) events.push(planned.event);
      row = planned.next;
      return pageStored;
    });
    return { change: { execution: row!, events }, pagesStored };
  });
}

/** The execution's row as it is now. */
export function readExecution(db: Database.Database, id: string): Execution | null {
  const found = statement(db, SQL.getExecution).get(id) as Row | undefined;
  return found ? toExecution(found, parse) : null;
}

/** Writes what a job write planned (planWrite: progress and last seq), conditional on the fence. */
function saveWritten(db: Database.Database, { next, event }: Planned): void {
  const progress = json(next.progress);
  const result = statement(db, SQL.updateWritten).run({ id: next.id, attempt: next.attempt, lastSeq: next.lastSeq, progress });
  if (result.changes !== 1) throw new Error(`execution ${next.id} changed underneath a transaction`);
  // The event's progress is the row's (planWrite): encoded once.
  if (event) statement(db, SQL.insertEvent).run({ ...event, progress: event.progress === next.progress ? progress : json(event.progress) });
}
