import { defineStore } from 'pinia';
import { computed, ref, watch } from 'vue';
import { ChatSessionQuery, ChatSessionsQuery, SendChatMessageMutation } from '../graphql/documents.ts';
import { toAppError } from '../graphql/errors.ts';
import type { ChatSession, ChatSessionSummary, Execution, ExecutionStatus } from '../graphql/documents.ts';
import { isTerminal } from '../lib/status.ts';
import { idleState, type AsyncState } from '../lib/async.ts';
import { useAuthStore } from './auth.ts';
import { useConnectionStore } from './connection.ts';
import { displayStatus, useExecutionsStore } from './executions.ts';

/** A message as the chat shows it: an answer still being written carries its execution's status. */
export interface ChatBubble {
  id: string;
  role: 'user' | 'assistant';
  text: string;
  executionId: string | null;
  status: ExecutionStatus | null;
  createdAt: string;
}

const SESSION_LIMIT = 30;

/** Chat sessions and their messages; answers stream from the executions store's jobProgress. */
export const useChatStore = defineStore('chat', () => {
  const connection = useConnectionStore();
  const auth = useAuthStore();
  const executions = useExecutionsStore();

  const sessions = ref<ChatSessionSummary[]>([]);
  const sessionsState = ref<AsyncState>(idleState());
  const session = ref<ChatSession | null>(null);
  const sessionState = ref<AsyncState>(idleState());
  const sending = ref<AsyncState>(idleState());
  /** The text being sent, shown at once as the user's message until the server has it. */
  const pendingText = ref<string | null>(null);

  const sessionId = computed(() => session.value?.id ?? null);

  /** The answers of this session the server knows about, newest last. */
  const sessionExecutions = computed(() =>
    sessionId.value
      ? executions
          .list({ kind: 'CHAT' })
          .filter((entry) => entry.execution.sessionId === sessionId.value)
          .reverse()
      : [],
  );

  const bubbles = computed<ChatBubble[]>(() => {
    const list: ChatBubble[] = [];
    const seen = new Set<string>();
    for (const message of session.value?.messages ?? []) {
      const entry = message.executionId ? executions.get(message.executionId) : undefined;
      if (message.executionId) seen.add(message.executionId);
      const streamed = entry?.answerComplete && entry.answer.length >= message.text.length ? entry.answer : null;
      list.push({
        id: message.id,
        role: message.role === 'user' ? 'user' : 'assistant',
        text: streamed ?? message.text,
        executionId: message.executionId,
        // Live while the executions store follows the answer; else the status the server sent with
        // the message, so an answer stopped before a reload still says Cancelled.
        status: entry ? displayStatus(entry) : message.role === 'user' ? null : message.status,
        createdAt: message.createdAt,
      });
    }
    // An answer the session does not list yet (sent a moment ago): show its question and the stream.
    for (const entry of sessionExecutions.value) {
      const { execution } = entry;
      if (seen.has(execution.id)) continue;
      list.push(
        { id: `${execution.id}:q`, role: 'user', text: execution.title, executionId: null, status: null, createdAt: execution.createdAt },
        {
          id: `${execution.id}:a`,
          role: 'assistant',
          text: entry.answer,
          executionId: execution.id,
          status: displayStatus(entry),
          createdAt: execution.createdAt,
        },
      );
    }
    if (pendingText.value) {
      list.push({ id: 'pending', role: 'user', text: pendingText.value, executionId: null, status: null, createdAt: new Date().toISOString() });
    }
    return list;
  });

  /** An answer of this session still being written, if any (the composer offers Stop for it). */
  const activeAnswer = computed(() =>
    sessionExecutions.value.find((entry) => !isTerminal(entry.execution.status)) ?? null,
  );

  async function loadSessions(): Promise<void> {
    if (sessionsState.value.status !== 'ready') sessionsState.value = { status: 'loading', error: null };
    const result = await connection.client().query(ChatSessionsQuery, { limit: SESSION_LIMIT }).toPromise();
    if (result.error || !result.data) {
      sessionsState.value = { status: 'error', error: toAppError(result.error ?? new Error('No data')) };
      return;
    }
    sessions.value = result.data.chatSessions;
    sessionsState.value = { status: 'ready', error: null };
  }

  /** Opens a session (null: a new, empty conversation). */
  async function open(id: string | null): Promise<void> {
    if (id === null) {
      session.value = null;
      sessionState.value = idleState();
      return;
    }
    if (session.value?.id !== id) sessionState.value = { status: 'loading', error: null };
    const result = await connection.client().query(ChatSessionQuery, { id }).toPromise();
    if (result.error || !result.data) {
      sessionState.value = { status: 'error', error: toAppError(result.error ?? new Error('No data')) };
      return;
    }
    if (!result.data.chatSession) {
      sessionState.value = { status: 'error', error: { code: 'NOT_FOUND', message: 'This conversation does not exist.' } };
      return;
    }
    session.value = result.data.chatSession;
    sessionState.value = { status: 'ready', error: null };
  }

  /** Sends a message in the open session (or a new one) and follows the answer. */
  async function send(text: string): Promise<Execution | null> {
    const message = text.trim();
    if (!message || sending.value.status === 'loading') return null;
    sending.value = { status: 'loading', error: null };
    pendingText.value = message;
    const input = { sessionId: sessionId.value, text: message };
    const result = await connection.client().mutation(SendChatMessageMutation, { input }).toPromise();
    if (result.error || !result.data) {
      pendingText.value = null;
      sending.value = { status: 'error', error: toAppError(result.error ?? new Error('No answer from the server')) };
      return null;
    }
    const execution = result.data.sendChatMessage;
    pendingText.value = null;
    executions.ingest(execution, { mine: true });
    if (execution.sessionId) await open(execution.sessionId);
    sending.value = { status: 'ready', error: null };
    void loadSessions();
    return execution;
  }

  /** Stops the answer being written. */
  function stopAnswer(executionId: string): Promise<boolean> {
    return executions.cancel(executionId);
  }

  // When an answer of the open session ends, read the session again for the final text.
  watch(
    () => ({ id: sessionId.value, ended: sessionExecutions.value.filter((entry) => isTerminal(entry.execution.status)).length }),
    (now, before) => {
      if (now.id && now.id === before?.id && now.ended > before.ended) void open(now.id);
    },
  );

  // Signed out: forget the conversations the previous token could read.
  watch(
    () => connection.epoch,
    () => {
      if (auth.signedIn) return;
      sessions.value = [];
      sessionsState.value = idleState();
      session.value = null;
      sessionState.value = idleState();
    },
  );

  return {
    sessions,
    sessionsState,
    session,
    sessionState,
    sending,
    bubbles,
    activeAnswer,
    loadSessions,
    open,
    send,
    stopAnswer,
  };
});
