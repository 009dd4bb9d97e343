import { randomUUID } from 'node:crypto';
import type Database from 'better-sqlite3';
import type { ChatMessage, ChatSession, NewChatMessage } from '../knowledge-records.ts';
import { MESSAGE_SELECT, toMessage, toSession, type MessageRow, type SessionRow } from '../rows.ts';
import { statement } from './statements.ts';

export function createChatSession(db: Database.Database, title: string): ChatSession {
  const now = Date.now();
  const row: SessionRow = { id: randomUUID(), title, created_at: now, updated_at: now };
  statement(db, 'INSERT INTO chat_sessions (id, title, created_at, updated_at) VALUES (@id, @title, @created_at, @updated_at)').run(row);
  return toSession(row);
}

export function getChatSession(db: Database.Database, id: string): ChatSession | null {
  const row = statement(db, 'SELECT * FROM chat_sessions WHERE id = ?').get(id) as SessionRow | undefined;
  return row ? toSession(row) : null;
}

/** Sessions, the most recently active first. */
export function listChatSessions(db: Database.Database, limit: number): ChatSession[] {
  return (statement(db, 'SELECT * FROM chat_sessions ORDER BY updated_at DESC, rowid DESC LIMIT ?').all(limit) as SessionRow[]).map(
    toSession,
  );
}

/** Appends messages to a session in one transaction, in the order given; returns them as stored. */
export function addChatMessages(db: Database.Database, sessionId: string, messages: readonly NewChatMessage[]): ChatMessage[] {
  const insert = statement(db, `INSERT INTO chat_messages (id, session_id, ord, role, text, execution_id, created_at)
    VALUES (?, ?, (SELECT coalesce(max(ord), 0) + 1 FROM chat_messages WHERE session_id = ?), ?, ?, ?, ?)`);
  return db.transaction(() => {
    const now = Date.now();
    const ids = messages.map((m) => {
      const id = m.id ?? randomUUID();
      insert.run(id, sessionId, sessionId, m.role, m.text, m.executionId ?? null, now);
      return id;
    });
    statement(db, 'UPDATE chat_sessions SET updated_at = ? WHERE id = ?').run(now, sessionId);
    return ids.map((id) => toMessage(statement(db, `${MESSAGE_SELECT} WHERE m.id = ?`).get(id) as MessageRow));
  })();
}

/** Links an assistant message to the execution that writes it. */
export function setChatMessageExecution(db: Database.Database, messageId: string, executionId: string): void {
  statement(db, 'UPDATE chat_messages SET execution_id = ? WHERE id = ?').run(executionId, messageId);
}

/** The messages of a session, oldest first; with `last`, only the newest `last` of them (still oldest first). */
export function listChatMessages(db: Database.Database, sessionId: string, last?: number): ChatMessage[] {
  const rows = statement(db, `SELECT * FROM (${MESSAGE_SELECT} WHERE m.session_id = ? ORDER BY m.ord DESC LIMIT ?) ORDER BY ord`)
    .all(sessionId, last ?? -1) as MessageRow[];
  return rows.map(toMessage);
}

/**
 * Sets the text so far of an answer. Called by SqliteStore.write inside the transaction of the job's
 * fenced write (with its TOKEN event), so the stored text and the event log never disagree.
 */
export function writeChatMessageText(db: Database.Database, message: { id: string; text: string }): void {
  const now = Date.now();
  statement(db, 'UPDATE chat_messages SET text = ? WHERE id = ?').run(message.text, message.id);
  statement(db, 'UPDATE chat_sessions SET updated_at = ? WHERE id = (SELECT session_id FROM chat_messages WHERE id = ?)').run(
    now,
    message.id,
  );
}
