import {
  chatSessionHistory,
  type ChatSessionConnection,
  DEFAULT_SESSIONS,
  deleteChatSession,
  renameChatSession,
  SESSION_DELETED,
  TITLE_LENGTH,
  getChatSession,
  listChatSessions,
  MAX_SESSIONS,
  MAX_TEXT_LENGTH,
  sendChatMessage,
  sessionMessages,
  SUPERSEDED,
} from '../services/chat.ts';
import { linkedExecution } from '../services/executions.ts';
import type { ChatMessage, ChatSession } from '../store/knowledge-records.ts';
import { builder } from './builder.ts';
import { ExecutionRef, ExecutionStatusEnum } from './execution.ts';

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
      resolve: (m, _, ctx) => linkedExecution(ctx, m.executionId),
    }),
    createdAt: t.field({ type: 'DateTime', resolve: (m) => m.createdAt }),
  }),
});

const ChatSessionRef = builder.objectRef<ChatSession>('ChatSession').implement({
  fields: (t) => ({
    id: t.exposeID('id'),
    title: t.exposeString('title', { description: 'The first question, shortened' }),
    createdAt: t.field({ type: 'DateTime', resolve: (s) => s.createdAt }),
    updatedAt: t.field({ type: 'DateTime', description: 'When a message was last added or an answer completed', resolve: (s) => s.updatedAt }),
    messages: t.field({
      type: [ChatMessageRef],
      description: 'Oldest first',
      resolve: (s, _, ctx) => sessionMessages(ctx, s),
    }),
  }),
});

const ChatSessionConnectionRef = builder.objectRef<ChatSessionConnection>('ChatSessionConnection').implement({
  description: 'A page of the chat sessions',
  fields: (t) => ({
    sessions: t.field({ type: [ChatSessionRef], resolve: (c) => c.sessions }),
    nextCursor: t.exposeString('nextCursor', { nullable: true, description: 'Pass as after for the next page; null on the last page' }),
    totalCount: t.exposeInt('totalCount', { description: 'How many sessions there are in all, on every page' }),
  }),
});

const SendChatMessageInput = builder.inputType('SendChatMessageInput', {
  fields: (t) => ({
    sessionId: t.id({ description: 'Omit to start a new session' }),
    text: t.string({ required: true, description: `1..${MAX_TEXT_LENGTH} characters` }),
  }),
});

builder.queryFields((t) => ({
  chatSession: t.field({
    type: ChatSessionRef,
    nullable: true,
    args: { id: t.arg.id({ required: true }) },
    resolve: (_, args, ctx) => getChatSession(ctx, args.id),
  }),
  chatSessions: t.field({
    type: [ChatSessionRef],
    description: `The most recently active first; limit 1..${MAX_SESSIONS}, default ${DEFAULT_SESSIONS}. To page past them: chatSessionHistory.`,
    args: { limit: t.arg.int() },
    resolve: (_, args, ctx) => listChatSessions(ctx, args.limit),
  }),
  chatSessionHistory: t.field({
    type: ChatSessionConnectionRef,
    description:
      `Sessions a page at a time, the most recently active first, with how many there are. limit 1..${MAX_SESSIONS}, default ${DEFAULT_SESSIONS}. ` +
      'A session that gets a message meanwhile moves to the top, above every cursor: read the first page again to see it there.',
    args: {
      after: t.arg.string({ description: 'The nextCursor of the page before' }),
      limit: t.arg.int(),
    },
    resolve: (_, args, ctx) => chatSessionHistory(ctx, args),
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
    resolve: (_, { input }, ctx) => sendChatMessage(ctx, input),
  }),
);

builder.mutationField('renameChatSession', (t) =>
  t.field({
    type: ChatSessionRef,
    description: `Sets a session's title (trimmed, 1..${TITLE_LENGTH} characters; else BAD_USER_INPUT). Unknown id: NOT_FOUND.`,
    args: { id: t.arg.id({ required: true }), title: t.arg.string({ required: true }) },
    resolve: (_, args, ctx) => renameChatSession(ctx, args),
  }),
);

builder.mutationField('deleteChatSession', (t) =>
  t.field({
    type: 'Boolean',
    description:
      `Cancels the session's running answer (cancelReason "${SESSION_DELETED}"), then deletes the session and its ` +
      'messages; the executions stay in the history. Unknown id: NOT_FOUND.',
    args: { id: t.arg.id({ required: true }) },
    resolve: (_, args, ctx) => deleteChatSession(ctx, args.id),
  }),
);
