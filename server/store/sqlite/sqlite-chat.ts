import { randomUUID } from 'node:crypto';
import type Database from 'better-sqlite3';
import { NotFoundError } from '../../lib/errors.ts';
import type { ChatMessage, ChatSession, NewChatMessage, SessionPage, SessionPosition } from '../knowledge-records.ts';
import { MESSAGE_SELECT, toMessage, toSession, type MessageRow, type SessionRow } from '../rows.ts';
import type { ChatStore } from '../store.ts';
import { statement, transaction, type MainTurn } from './statements.ts';

/**
 * Writes a complete answer's full text and touches its session. Called by SqliteStore.write inside
 * the transaction of the answer's last fenced write: the text is its TOKEN events', and until it is
 * written the message reads as those events (MESSAGE_SELECT).
 */
export function completeChatMessage(db: Database.Database, message: { id: string; text: string }): void {
  statement(db, 'UPDATE chat_messages SET text = ? WHERE id = ?').run(message.text, message.id);
  statement(db, 'UPDATE chat_sessions SET updated_at = ? WHERE id = (SELECT session_id FROM chat_messages WHERE id = ?)').run(
    Date.now(),
    message.id,
  );
}

/** The chat slice of the SQLite store. */
export class SqliteChat implements ChatStore {
  constructor(
    private readonly db: Database.Database,
    /** Runs each call in its turn (see SqliteStore.inOrder). */
    private readonly inOrder: MainTurn,
  ) {}

  async createSession(title: string): Promise<ChatSession> {
    return this.inOrder(() => {
      const now = Date.now();
      const row: SessionRow = { id: randomUUID(), title, created_at: now, updated_at: now };
      statement(this.db, 'INSERT INTO chat_sessions (id, title, created_at, updated_at) VALUES (@id, @title, @created_at, @updated_at)').run(row);
      return toSession(row);
    });
  }

  async getSession(id: string): Promise<ChatSession | null> {
    return this.inOrder(() => {
      const row = statement(this.db, 'SELECT * FROM chat_sessions WHERE id = ?').get(id) as SessionRow | undefined;
      return row ? toSession(row) : null;
    });
  }

  /** Sessions, the most recently active first. */
  async listSessions(limit: number): Promise<ChatSession[]> {
    return this.inOrder(() => {
      return (statement(this.db, 'SELECT * FROM chat_sessions ORDER BY updated_at DESC, rowid DESC LIMIT ?').all(limit) as SessionRow[]).map(
        toSession,
      );
    });
  }

  /** Sessions after `before`, the most recently active first (rowid, the insertion order, breaks a tie), and the count of all. */
  async sessionPage(before: SessionPosition | null, limit: number): Promise<SessionPage> {
    return this.inOrder(() => {
      return transaction(this.db, () => {
        const { total } = statement(this.db, 'SELECT count(*) AS total FROM chat_sessions').get() as { total: number };
        const rows = (
          before === null
            ? statement(this.db, 'SELECT rowid AS ord, * FROM chat_sessions ORDER BY updated_at DESC, rowid DESC LIMIT ?').all(limit)
            : statement(this.db, 'SELECT rowid AS ord, * FROM chat_sessions WHERE (updated_at, rowid) < (?, ?) ORDER BY updated_at DESC, rowid DESC LIMIT ?')
                .all(before.updatedAt, before.ord, limit)
        ) as (SessionRow & { ord: number })[];
        return { total, rows: rows.map((row) => ({ session: toSession(row), position: { updatedAt: row.updated_at, ord: row.ord } })) };
      });
    });
  }

  /**
   * Appends messages to a session in one transaction, in the order given; returns them as stored.
   * The session is touched first: when it is gone (deleted meanwhile), nothing is stored.
   */
  async addMessages(sessionId: string, messages: readonly NewChatMessage[]): Promise<ChatMessage[]> {
    return this.inOrder(() => {
      const insert = statement(this.db, `INSERT INTO chat_messages (id, session_id, ord, role, text, execution_id, created_at)
        VALUES (?, ?, (SELECT coalesce(max(ord), 0) + 1 FROM chat_messages WHERE session_id = ?), ?, ?, ?, ?)`);
      return transaction(this.db, () => {
        const now = Date.now();
        if (statement(this.db, 'UPDATE chat_sessions SET updated_at = ? WHERE id = ?').run(now, sessionId).changes === 0) {
          throw new NotFoundError(`no chat session has id "${sessionId}"`);
        }
        const ids = messages.map((m) => {
          const id = m.id ?? randomUUID();
          insert.run(id, sessionId, sessionId, m.role, m.text, m.executionId ?? null, now);
          return id;
        });
        return ids.map((id) => toMessage(statement(this.db, `${MESSAGE_SELECT} WHERE m.id = ?`).get(id) as MessageRow));
      });
    });
  }

  /** Links an assistant message to the execution that writes it; false when the message is gone. */
  async setMessageExecution(messageId: string, executionId: string): Promise<boolean> {
    return this.inOrder(() => {
      return statement(this.db, 'UPDATE chat_messages SET execution_id = ? WHERE id = ?').run(executionId, messageId).changes > 0;
    });
  }

  /** The messages of a session, oldest first; with `last`, only the newest `last` of them (still oldest first). */
  async listMessages(sessionId: string, last?: number): Promise<ChatMessage[]> {
    return this.inOrder(() => {
      const rows = statement(this.db, `SELECT * FROM (${MESSAGE_SELECT} WHERE m.session_id = ? ORDER BY m.ord DESC LIMIT ?) ORDER BY ord`)
        .all(sessionId, last ?? -1) as MessageRow[];
      return rows.map(toMessage);
    });
  }

  async renameSession(id: string, title: string): Promise<ChatSession | null> {
    return this.inOrder(() => {
      statement(this.db, 'UPDATE chat_sessions SET title = ? WHERE id = ?').run(title, id);
      return this.getSession(id);
    });
  }

  /** The messages go with the session (ON DELETE CASCADE). */
  async deleteSession(id: string): Promise<boolean> {
    return this.inOrder(() => {
      return transaction(this.db, () => {
        statement(this.db, 'DELETE FROM chat_messages WHERE session_id = ?').run(id);
        return statement(this.db, 'DELETE FROM chat_sessions WHERE id = ?').run(id).changes > 0;
      });
    });
  }
}
