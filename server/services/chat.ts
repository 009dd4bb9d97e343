import { randomUUID } from 'node:crypto';
import { ACTIVE_STATUSES } from '../executions/status.ts';
import type { Execution } from '../executions/types.ts';
import type { ChatInput } from '../jobs/chat/chat-job.ts';
import { NotFoundError } from '../lib/errors.ts';
import type { ChatMessage, ChatSession } from '../store/knowledge-records.ts';
import { checkId, checkLimit, checkText } from './arguments.ts';
import type { ServiceContext } from './context.ts';
import { decodeCursorPair, encodeCursorPair } from './cursor.ts';

export const MAX_TEXT_LENGTH = 4000;
export const TITLE_LENGTH = 80;
export const DEFAULT_SESSIONS = 20;
export const MAX_SESSIONS = 100;
/** The cancel reason of an answer whose conversation was deleted. */
export const SESSION_DELETED = 'conversation deleted';
/** The cancel reason of an answer that a newer question in its session replaced. */
export const SUPERSEDED = 'superseded by a newer question';

/** A session title from its first question: one line, at most TITLE_LENGTH characters, cut at a word. */
export function titleFrom(question: string): string {
  const line = question.replace(/\s+/g, ' ').trim();
  if (line.length <= TITLE_LENGTH) return line;
  const cut = line.slice(0, TITLE_LENGTH - 1);
  const space = cut.lastIndexOf(' ');
  return `${space > TITLE_LENGTH / 2 ? cut.slice(0, space) : cut}…`;
}

export function getChatSession(ctx: ServiceContext, id: string | number): Promise<ChatSession | null> {
  return ctx.store.chat.getSession(checkId(id));
}

/** A session's messages, oldest first. */
export function sessionMessages(ctx: ServiceContext, session: ChatSession): Promise<ChatMessage[]> {
  return ctx.store.chat.listMessages(session.id);
}

/** The most recently active first. */
export function listChatSessions(ctx: ServiceContext, limit: number | null | undefined): Promise<ChatSession[]> {
  return ctx.store.chat.listSessions(checkLimit(limit, DEFAULT_SESSIONS, MAX_SESSIONS));
}

/** One page of chatSessionHistory: the sessions, the cursor of the next page (null on the last), and how many there are in all. */
export interface ChatSessionConnection {
  sessions: ChatSession[];
  nextCursor: string | null;
  totalCount: number;
}

/**
 * Sessions a page at a time, the most recently active first, after the cursor. The cursor is a
 * position (last activity, then creation order), not an offset: a session that gets a message moves
 * to the top, above every cursor, and no page repeats or skips another session because of it.
 */
export async function chatSessionHistory(ctx: ServiceContext, args: { after?: string | null; limit?: number | null }): Promise<ChatSessionConnection> {
  const limit = checkLimit(args.limit, DEFAULT_SESSIONS, MAX_SESSIONS);
  const before = decodeCursorPair(args.after, 's', 'chatSessionHistory');
  const page = await ctx.store.chat.sessionPage(before && { updatedAt: before[0], ord: before[1] }, limit + 1);
  const rows = page.rows.slice(0, limit);
  const last = rows.at(-1)?.position;
  return {
    sessions: rows.map((row) => row.session),
    nextCursor: page.rows.length > limit && last ? encodeCursorPair('s', last.updatedAt, last.ord) : null,
    totalCount: page.total,
  };
}

/** Cancels every answer of a session still active (reason `reason`). */
async function cancelAnswers(ctx: ServiceContext, sessionId: string, reason: string): Promise<void> {
  const active = await ctx.store.listExecutions({ kind: 'CHAT', sessionId, statuses: ACTIVE_STATUSES, oldestFirst: true });
  await Promise.all(active.map((e) => ctx.engine.cancel(e.id, reason, ctx.actor)));
}

/**
 * Cancels the answers of a session that were started before `newest` and are still active. Each
 * request sweeps everything older than its own answer after submitting it, so however two
 * questions race, only the newest answer keeps running.
 */
async function supersede(ctx: ServiceContext, sessionId: string, newest: Execution): Promise<void> {
  const active = await ctx.store.listExecutions({ kind: 'CHAT', sessionId, statuses: ACTIVE_STATUSES, oldestFirst: true });
  const index = active.findIndex((e) => e.id === newest.id);
  const older = index === -1 ? active.filter((e) => e.createdAt < newest.createdAt) : active.slice(0, index);
  await Promise.all(older.map((e) => ctx.engine.cancel(e.id, SUPERSEDED, ctx.actor)));
}

/**
 * Stores the question and starts its answer. An answer still running in the session is cancelled
 * (reason SUPERSEDED): the newest question is answered now, the older answer keeps its text.
 *
 * A delete of the session racing this ends one of two ways (see deleteChatSession): the delete went
 * first, and the question is refused with NOT_FOUND, nothing of it kept and its answer, if it was
 * started, cancelled; or the question went first, and the delete cancels its answer with the rest.
 */
export async function sendChatMessage(ctx: ServiceContext, input: { sessionId?: string | number | null; text: string }): Promise<Execution> {
  const text = checkText(input.text, 'text', MAX_TEXT_LENGTH);
  let session: ChatSession;
  if (input.sessionId != null) {
    const id = checkId(input.sessionId, 'sessionId');
    const found = await ctx.store.chat.getSession(id);
    if (!found) throw new NotFoundError(`no chat session has id "${id}"`);
    session = found;
  } else {
    session = await ctx.store.chat.createSession(titleFrom(text));
  }
  // The answer's row exists before its execution can run, so every write of the job finds it. A
  // session deleted since the look above takes no messages: NotFoundError, nothing stored.
  const messageId = randomUUID();
  await ctx.store.chat.addMessages(session.id, [
    { role: 'user', text },
    { id: messageId, role: 'assistant', text: '' },
  ]);
  const chatInput: ChatInput = { sessionId: session.id, messageId, question: text };
  const execution = await ctx.engine.submit({ kind: 'CHAT', title: text, sessionId: session.id, input: chatInput, createdBy: ctx.actor });
  // Deleted between the messages and the execution: the delete's last look for answers to stop may
  // have come before this one existed, and the messages went with the session. Stop it here.
  if (!(await ctx.store.chat.setMessageExecution(messageId, execution.id))) {
    await ctx.engine.cancel(execution.id, SESSION_DELETED, ctx.actor);
    throw new NotFoundError(`no chat session has id "${session.id}": it was deleted while the question was being sent`);
  }
  if (input.sessionId != null) await supersede(ctx, session.id, execution);
  return execution;
}

async function findSession(ctx: ServiceContext, raw: string | number): Promise<ChatSession> {
  const id = checkId(raw);
  const found = await ctx.store.chat.getSession(id);
  if (!found) throw new NotFoundError(`no chat session has id "${id}"`);
  return found;
}

/** Renames a session; the title is checked as a question is (trimmed, 1..TITLE_LENGTH characters). */
export async function renameChatSession(ctx: ServiceContext, input: { id: string | number; title: string }): Promise<ChatSession> {
  const title = checkText(input.title, 'title', TITLE_LENGTH);
  const session = await findSession(ctx, input.id);
  const renamed = await ctx.store.chat.renameSession(session.id, title);
  if (!renamed) throw new NotFoundError(`no chat session has id "${session.id}"`);
  return renamed;
}

/**
 * Deletes a session and its messages. Its running answers are cancelled first (reason
 * SESSION_DELETED), so no job goes on writing into a conversation that is gone; the executions
 * stay in the history. Once the session is gone no question can be stored in it
 * (ChatStore.addMessages), so a second look after the delete finds every answer a question sent
 * meanwhile started; one started after that look finds its message gone and is stopped by
 * sendChatMessage itself.
 */
export async function deleteChatSession(ctx: ServiceContext, raw: string | number): Promise<boolean> {
  const session = await findSession(ctx, raw);
  await cancelAnswers(ctx, session.id, SESSION_DELETED);
  if (!(await ctx.store.chat.deleteSession(session.id))) throw new NotFoundError(`no chat session has id "${session.id}"`);
  await cancelAnswers(ctx, session.id, SESSION_DELETED);
  return true;
}
