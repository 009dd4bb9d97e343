import { randomUUID } from 'node:crypto';
import type pg from 'pg';
import { NotFoundError } from '../../lib/errors.ts';
import type { ChatMessage, ChatSession, NewChatMessage, SessionPage, SessionPosition } from '../knowledge-records.ts';
import { MESSAGE_SELECT, toMessage, toSession, type MessageRow, type SessionRow } from '../rows.ts';
import type { ChatStore } from '../store.ts';
import { text } from './rows.ts';

type Queryable = Pick<pg.Pool | pg.PoolClient, 'query'>;

/**
 * Writes a complete answer's full text and touches its session, inside the transaction of the
 * answer's last fenced write: the text is its TOKEN events', and until it is written the message
 * reads as those events (MESSAGE_SELECT).
 */
export async function completeChatMessage(db: Queryable, message: { id: string; text: string }): Promise<void> {
  await db.query(
    `WITH m AS (UPDATE chat_messages SET text = $1 WHERE id = $2 RETURNING session_id)
     UPDATE chat_sessions SET updated_at = $3 WHERE id IN (SELECT session_id FROM m)`,
    [text(message.text), message.id, Date.now()],
  );
}

/** The chat slice of the PostgreSQL store. */
export class PostgresChat implements ChatStore {
  constructor(
    private readonly db: Queryable,
    /** Runs a function in one transaction (with the store's retry on a broken connection). */
    private readonly tx: <T>(fn: (client: Queryable) => Promise<T>) => Promise<T>,
  ) {}

  async createSession(title: string): Promise<ChatSession> {
    const now = Date.now();
    const row: SessionRow = { id: randomUUID(), title: text(title), created_at: now, updated_at: now };
    await this.db.query('INSERT INTO chat_sessions (id, title, created_at, updated_at) VALUES ($1, $2, $3, $4)', [
      row.id,
      row.title,
      now,
      now,
    ]);
    return toSession(row);
  }

  async getSession(id: string): Promise<ChatSession | null> {
    const { rows } = await this.db.query<SessionRow>('SELECT id, title, created_at, updated_at FROM chat_sessions WHERE id = $1', [id]);
    return rows[0] ? toSession(rows[0]) : null;
  }

  /** Sessions, the most recently active first (the newer session first on a tie). */
  async listSessions(limit: number): Promise<ChatSession[]> {
    const { rows } = await this.db.query<SessionRow>(
      'SELECT id, title, created_at, updated_at FROM chat_sessions ORDER BY updated_at DESC, ord DESC LIMIT $1',
      [limit],
    );
    return rows.map(toSession);
  }

  /** Sessions after `before`, the most recently active first (ord breaks a tie), and the count of all (as executionHistory counts). */
  async sessionPage(before: SessionPosition | null, limit: number): Promise<SessionPage> {
    const counted = this.db.query<{ total: string }>('SELECT count(*) AS total FROM chat_sessions');
    const page = this.db.query<SessionRow & { ord: string }>(
      before === null
        ? 'SELECT id, ord, title, created_at, updated_at FROM chat_sessions ORDER BY updated_at DESC, ord DESC LIMIT $1'
        : 'SELECT id, ord, title, created_at, updated_at FROM chat_sessions WHERE (updated_at, ord) < ($2, $3) ORDER BY updated_at DESC, ord DESC LIMIT $1',
      before === null ? [limit] : [limit, before.updatedAt, before.ord],
    );
    const [{ rows: totals }, { rows }] = await Promise.all([counted, page]);
    return {
      total: Number(totals[0]!.total),
      rows: rows.map((row) => ({ session: toSession(row), position: { updatedAt: Number(row.updated_at), ord: Number(row.ord) } })),
    };
  }

  /**
   * Appends messages in one transaction, in the order given. Touching the session first
   * locks its row, so two nodes appending to one session at once get distinct, ordered `ord`s, and
   * a delete of the session waits for this one or goes first: then nothing is stored (NotFoundError).
   */
  async addMessages(sessionId: string, messages: readonly NewChatMessage[]): Promise<ChatMessage[]> {
    return this.tx(async (db) => {
      const now = Date.now();
      const touched = await db.query('UPDATE chat_sessions SET updated_at = $1 WHERE id = $2', [now, sessionId]);
      if ((touched.rowCount ?? 0) === 0) throw new NotFoundError(`no chat session has id "${sessionId}"`);
      const ids: string[] = [];
      for (const m of messages) {
        const id = m.id ?? randomUUID();
        await db.query(
          `INSERT INTO chat_messages (id, session_id, ord, role, text, execution_id, created_at)
           VALUES ($1, $2, (SELECT coalesce(max(ord), 0) + 1 FROM chat_messages WHERE session_id = $2), $3, $4, $5, $6)`,
          [id, sessionId, m.role, text(m.text), m.executionId ?? null, now],
        );
        ids.push(id);
      }
      const { rows } = await db.query<MessageRow>(`${MESSAGE_SELECT} WHERE m.id = ANY($1) ORDER BY m.ord`, [ids]);
      return rows.map(toMessage);
    });
  }

  /** Links an assistant message to the execution that writes it; false when the message is gone. */
  async setMessageExecution(messageId: string, executionId: string): Promise<boolean> {
    const { rowCount } = await this.db.query('UPDATE chat_messages SET execution_id = $1 WHERE id = $2', [executionId, messageId]);
    return (rowCount ?? 0) > 0;
  }

  /** The messages of a session, oldest first; with `last`, only the newest `last` of them (still oldest first). */
  async listMessages(sessionId: string, last?: number): Promise<ChatMessage[]> {
    const { rows } = await this.db.query<MessageRow>(
      `SELECT * FROM (${MESSAGE_SELECT} WHERE m.session_id = $1 ORDER BY m.ord DESC LIMIT $2) recent ORDER BY ord`,
      [sessionId, last ?? null],
    );
    return rows.map(toMessage);
  }

  async renameSession(id: string, title: string): Promise<ChatSession | null> {
    const { rows } = await this.db.query<SessionRow>(
      'UPDATE chat_sessions SET title = $1 WHERE id = $2 RETURNING id, title, created_at, updated_at',
      [text(title), id],
    );
    return rows[0] ? toSession(rows[0]) : null;
  }

  /** The messages go with the session (ON DELETE CASCADE). */
  async deleteSession(id: string): Promise<boolean> {
    const { rowCount } = await this.db.query('DELETE FROM chat_sessions WHERE id = $1', [id]);
    return (rowCount ?? 0) > 0;
  }
}
