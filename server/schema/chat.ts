import { randomUUID } from 'node:crypto';
import { badInput, notFound } from '../errors.ts';
import { ACTIVE_STATUSES } from '../executions/status.ts';
import type { Execution } from '../executions/types.ts';
import type { ChatInput } from '../jobs/chat/chat-job.ts';
import type { ChatMessage, ChatSession } from '../store/knowledge-records.ts';
import { builder, type Context } from './builder.ts';
import { checkId } from '../services/arguments.ts';
import { ExecutionRef, ExecutionStatusEnum } from './execution.ts';

const MAX_TEXT_LENGTH = 4000;
const TITLE_LENGTH = 80;
const DEFAULT_SESSIONS = 20;
const MAX_SESSIONS = 100;
/** The cancel reason of an answer that a newer question in its session replaced. */
export const SUPERSEDED = 'superseded by a newer question';

const ChatMessageRef = builder.objectRef<ChatMessage>('ChatMessage').implement({
  fields: (t) => ({
    id: t.exposeID('id'),
    role: t.exposeString('role', { description: 'user | assistant' }),
    text: t.exposeString('text', { description: 'For an answer still being written: the text so far' }),
    executionId: t.exposeID('executionId', { nullable: true, description: 'The CHAT execution that writes an assistant message' }),
    status: t.field({
      type: ExecutionStatusEnum,
      nullable: true,
      description: 'Of the execution writing an assistant message (CANCELLED: the answer stopped where the text ends); null for user messages',
      resolve: (m) => m.status,
    }),
    execution: t.field({
      type: ExecutionRef,
      nullable: true,
      resolve: (m, _, ctx) => (m.executionId ? ctx.store.getExecution(m.executionId) : null),
    }),
    createdAt: t.field({ type: 'DateTime', resolve: (m) => m.createdAt }),
  }),
});

const ChatSessionRef = builder.objectRef<ChatSession>('ChatSession').implement({
  fields: (t) => ({
    id: t.exposeID('id'),
    title: t.exposeString('title', { description: 'The first question, shortened' }),
    createdAt: t.field({ type: 'DateTime', resolve: (s) => s.createdAt }),
    updatedAt: t.field({ type: 'DateTime', description: 'When a message was last added or written', resolve: (s) => s.updatedAt }),
    messages: t.field({
      type: [ChatMessageRef],
      description: 'Oldest first',
      resolve: (s, _, ctx) => ctx.store.listChatMessages(s.id),
    }),
  }),
});

const SendChatMessageInput = builder.inputType('SendChatMessageInput', {
  fields: (t) => ({
    sessionId: t.id({ description: 'Omit to start a new session' }),
    text: t.string({ required: true, description: `1..${MAX_TEXT_LENGTH} characters` }),
  }),
});

function checkText(text: string): string {
  const trimmed = text.trim();
  if (!trimmed) throw badInput('text must not be empty', 'text');
  if (text.length > MAX_TEXT_LENGTH) throw badInput(`text must be at most ${MAX_TEXT_LENGTH} characters`, 'text');
  return trimmed;
}

/** A session title from its first question: one line, at most TITLE_LENGTH characters, cut at a word. */
export function titleFrom(question: string): string {
  const line = question.replace(/\s+/g, ' ').trim();
  if (line.length <= TITLE_LENGTH) return line;
  const cut = line.slice(0, TITLE_LENGTH - 1);
  const space = cut.lastIndexOf(' ');
  return `${space > TITLE_LENGTH / 2 ? cut.slice(0, space) : cut}…`;
}

/**
 * Cancels the answers of a session that were started before `newest` and are still active. Each
 * request sweeps everything older than its own answer after submitting it, so however two
 * questions race, only the newest answer keeps running.
 */
async function supersede(sessionId: string, newest: Execution, ctx: Context): Promise<void> {
  const active = await ctx.store.listExecutions({ kind: 'CHAT', sessionId, statuses: ACTIVE_STATUSES, oldestFirst: true });
  const index = active.findIndex((e) => e.id === newest.id);
  const older = index === -1 ? active.filter((e) => e.createdAt < newest.createdAt) : active.slice(0, index);
  await Promise.all(older.map((e) => ctx.engine.cancel(e.id, SUPERSEDED, ctx.actor)));
}

/**
 * Stores the question and starts its answer. An answer still running in the session is cancelled
 * (reason SUPERSEDED): the newest question is answered now, the older answer keeps its text.
 */
async function sendChatMessage(input: { sessionId?: string | number | null; text: string }, ctx: Context): Promise<Execution> {
  const text = checkText(input.text);
  let session: ChatSession;
  if (input.sessionId != null) {
    const id = checkId(input.sessionId, 'sessionId');
    const found = await ctx.store.getChatSession(id);
    if (!found) throw notFound(`no chat session has id "${id}"`);
    session = found;
  } else {
    session = await ctx.store.createChatSession(titleFrom(text));
  }
  // The answer's row exists before its execution can run, so every write of the job finds it.
  const messageId = randomUUID();
  await ctx.store.addChatMessages(session.id, [
    { role: 'user', text },
    { id: messageId, role: 'assistant', text: '' },
  ]);
  const chatInput: ChatInput = { sessionId: session.id, messageId, question: text };
  const execution = await ctx.engine.submit({ kind: 'CHAT', title: text, sessionId: session.id, input: chatInput, createdBy: ctx.actor });
  await ctx.store.setChatMessageExecution(messageId, execution.id);
  if (input.sessionId != null) await supersede(session.id, execution, ctx);
  return execution;
}

builder.queryFields((t) => ({
  chatSession: t.field({
    type: ChatSessionRef,
    nullable: true,
    args: { id: t.arg.id({ required: true }) },
    resolve: (_, args, ctx) => ctx.store.getChatSession(checkId(args.id)),
  }),
  chatSessions: t.field({
    type: [ChatSessionRef],
    description: `The most recently active first; limit 1..${MAX_SESSIONS}, default ${DEFAULT_SESSIONS}`,
    args: { limit: t.arg.int() },
    resolve: (_, args, ctx) => {
      const limit = args.limit ?? DEFAULT_SESSIONS;
      if (limit < 1 || limit > MAX_SESSIONS) throw badInput(`limit must be between 1 and ${MAX_SESSIONS}`, 'limit');
      return ctx.store.listChatSessions(limit);
    },
  }),
}));

builder.mutationField('sendChatMessage', (t) =>
  t.field({
    type: ExecutionRef,
    description:
      'Asks a question: stores it in the session (a new one when sessionId is omitted; its title is the question, ' +
      'shortened) and returns the CHAT execution that answers it; the answer streams as TOKEN events of jobProgress ' +
      'and into the session\'s assistant message. An answer still running in the same session is cancelled first, ' +
      `with cancelReason "${SUPERSEDED}", and keeps the text it had. text: 1..${MAX_TEXT_LENGTH} characters. ` +
      'Unknown sessionId: NOT_FOUND.',
    args: { input: t.arg({ type: SendChatMessageInput, required: true }) },
    resolve: (_, { input }, ctx) => sendChatMessage(input, ctx),
  }),
);
