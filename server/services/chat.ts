import { randomUUID } from 'node:crypto';
import { ACTIVE_STATUSES } from '../executions/status.ts';
import type { Execution } from '../executions/types.ts';
import type { ChatInput } from '../jobs/chat/chat-job.ts';
import { NotFoundError } from '../lib/errors.ts';
import type { ChatMessage, ChatSession } from '../store/knowledge-records.ts';
import { checkId, checkLimit, checkText } from './arguments.ts';
import type { ServiceContext } from './context.ts';

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
  // The answer's row exists before its execution can run, so every write of the job finds it.
  const messageId = randomUUID();
  await ctx.store.chat.addMessages(session.id, [
    { role: 'user', text },
    { id: messageId, role: 'assistant', text: '' },
  ]);
  const chatInput: ChatInput = { sessionId: session.id, messageId, question: text };
  const execution = await ctx.engine.submit({ kind: 'CHAT', title: text, sessionId: session.id, input: chatInput, createdBy: ctx.actor });
  await ctx.store.chat.setMessageExecution(messageId, execution.id);
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
 * stay in the history.
 */
export async function deleteChatSession(ctx: ServiceContext, raw: string | number): Promise<boolean> {
  const session = await findSession(ctx, raw);
  const active = await ctx.store.listExecutions({ kind: 'CHAT', sessionId: session.id, statuses: ACTIVE_STATUSES, oldestFirst: true });
  await Promise.all(active.map((e) => ctx.engine.cancel(e.id, SESSION_DELETED, ctx.actor)));
  if (!(await ctx.store.chat.deleteSession(session.id))) throw new NotFoundError(`no chat session has id "${session.id}"`);
  return true;
}
