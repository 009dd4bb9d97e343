import { acceptHMRUpdate, defineStore } from 'pinia';
import { computed, ref, watch } from 'vue';
import { ChatSessionQuery, ChatSessionsQuery, DeleteChatSessionMutation, RenameChatSessionMutation, SendChatMessageMutation } from '../graphql/documents.ts';
import type { ChatSession, ChatSessionSummary, Execution, ExecutionStatus } from '../graphql/documents.ts';
import { isTerminal } from '../lib/status.ts';
import { idleState, intoState, type AsyncState } from '../lib/async.ts';
import { useAuthStore } from './auth.ts';
import { useConnectionStore } from './connection.ts';
import { displayStatus } from '../lib/reconcile.ts';
import { useExecutionsStore } from './executions.ts';

/** A message as the chat shows it: an answer still being written carries its execution's status. */
export interface ChatBubble {
  id: string;
  role: 'user' | 'assistant';
  text: string;
  executionId: string | null;
  status: ExecutionStatus | null;
  createdAt: string;
}

/** Conversations per page of the list ("Load more" asks the server for the next, by its cursor). */
const SESSION_PAGE = 30;

const NOT_SENT_DELETING = 'This conversation is being deleted, so your question was not sent. Start a new conversation to ask it.';
const NOT_SENT_DELETED = 'This conversation was deleted, so your question was not sent. Start a new conversation to ask it.';

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
  /** Renaming or deleting the open conversation. */
  const editing = ref<AsyncState>(idleState());
  /** The cursor of the next page of conversations (null: the last page is in). */
  const sessionsNext = ref<string | null>(null);
  /** How many conversations the server has in all. */
  const sessionsTotal = ref(0);
  /** Loading the next page of conversations. */
  const sessionsMore = ref<AsyncState>(idleState());
  /** A page past the first is in: a reload of the first keeps them (and their cursor) below it. */
  let pagedPastFirst = false;
  const moreSessions = computed(() => sessionsNext.value !== null);
  /** Conversations the server has that are not listed yet. */
  const sessionsNotShown = computed(() => Math.max(0, sessionsTotal.value - sessions.value.length));
  /** The text being sent, shown at once as the user's message until the server has it. */
  const pendingText = ref<string | null>(null);
  /** The conversation whose Delete is in flight: nothing is sent into it meanwhile. */
  const deleting = ref<string | null>(null);

  /** The conversation asked for last (the route's): a slower answer for an earlier one is dropped. */
  const openedId = ref<string | null>(null);
  const sessionId = computed(() => openedId.value);
  /** The messages shown: only those of the conversation asked for, never another's still on screen. */
  const shown = computed(() => (session.value?.id === openedId.value ? session.value : null));

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
    for (const message of shown.value?.messages ?? []) {
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

  function sessionsPage(after: string | null) {
    return connection.client().query(ChatSessionsQuery, { after, limit: SESSION_PAGE }, { requestPolicy: 'network-only' }).toPromise();
  }

  /**
   * Reads the first page of conversations again (the most recently active first). Pages loaded
   * past it stay below it, minus those that moved up into it, and the next cursor stays theirs.
   */
  async function loadSessions(): Promise<void> {
    await intoState(
      sessionsState,
      sessionsPage(null),
      ({ chatSessionHistory: page }) => {
        sessionsTotal.value = page.totalCount;
        if (!pagedPastFirst) {
          sessions.value = page.sessions;
          sessionsNext.value = page.nextCursor;
          return;
        }
        const top = new Set(page.sessions.map((item) => item.id));
        sessions.value = [...page.sessions, ...sessions.value.filter((item) => !top.has(item.id))];
      },
      { quiet: true },
    );
  }

  /** Lists the next page of conversations, by the server's cursor. */
  async function loadMoreSessions(): Promise<void> {
    const after = sessionsNext.value;
    if (after === null || sessionsMore.value.status === 'loading') return;
    await intoState(sessionsMore, sessionsPage(after), ({ chatSessionHistory: page }) => {
      const listed = new Set(sessions.value.map((item) => item.id));
      sessions.value = [...sessions.value, ...page.sessions.filter((item) => !listed.has(item.id))];
      sessionsNext.value = page.nextCursor;
      sessionsTotal.value = page.totalCount;
      pagedPastFirst = true;
    });
  }

  /** Renames a conversation; true when the server took the new title. */
  async function rename(id: string, title: string): Promise<boolean> {
    const request = connection.client().mutation(RenameChatSessionMutation, { id, title }).toPromise();
    const data = await intoState(editing, request, (data) => {
      const renamed = data.renameChatSession;
      if (session.value?.id === renamed.id) session.value = { ...session.value, title: renamed.title };
      sessions.value = sessions.value.map((item) => (item.id === renamed.id ? { ...item, title: renamed.title } : item));
    });
    return data !== null;
  }

  /** Deletes a conversation (the server stops its answer first); true when it is gone. */
  async function remove(id: string): Promise<boolean> {
    deleting.value = id;
    const request = connection.client().mutation(DeleteChatSessionMutation, { id }).toPromise();
    const data = await intoState(editing, request, () => {
      const before = sessions.value.length;
      sessions.value = sessions.value.filter((item) => item.id !== id);
      if (sessions.value.length < before) sessionsTotal.value = Math.max(0, sessionsTotal.value - 1);
      if (session.value?.id === id) session.value = null;
    });
    if (deleting.value === id) deleting.value = null;
    if (data) void loadSessions();
    return data !== null;
  }

  /** Opens a session (null: a new, empty conversation). */
  async function open(id: string | null): Promise<void> {
    openedId.value = id;
    if (id === null) {
      session.value = null;
      sessionState.value = idleState();
      return;
    }
    const request = connection.client().query(ChatSessionQuery, { id }).toPromise();
    const data = await intoState(sessionState, request, (data) => (session.value = data.chatSession), {
      quiet: session.value?.id === id,
      current: () => openedId.value === id,
    });
    if (data && !data.chatSession) {
      sessionState.value = { status: 'error', error: { code: 'NOT_FOUND', message: 'This conversation does not exist.' } };
    }
  }

  /** Sends a message in the open session (or a new one) and follows the answer. */
  async function send(text: string): Promise<Execution | null> {
    const message = text.trim();
    if (!message || sending.value.status === 'loading') return null;
    if (sessionId.value !== null && deleting.value === sessionId.value) {
      sending.value = { status: 'error', error: { code: 'CONFLICT', message: NOT_SENT_DELETING } };
      return null;
    }
    pendingText.value = message;
    const input = { sessionId: sessionId.value, text: message };
    const request = connection.client().mutation(SendChatMessageMutation, { input }).toPromise();
    const data = await intoState(sending, request, (data) => executions.ingest(data.sendChatMessage, { mine: true }));
    pendingText.value = null;
    // The conversation went while the question was on its way (deleted here or elsewhere): say so plainly.
    if (!data && input.sessionId !== null && sending.value.error?.code === 'NOT_FOUND') {
      sending.value = { status: 'error', error: { code: 'NOT_FOUND', message: NOT_SENT_DELETED } };
    }
    if (!data) return null;
    const execution = data.sendChatMessage;
    // Still on the conversation it was sent in (or a new one): show it; else the user moved on.
    if (execution.sessionId && (openedId.value === input.sessionId || openedId.value === execution.sessionId)) {
      await open(execution.sessionId);
    }
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
      sessionsNext.value = null;
      sessionsTotal.value = 0;
      sessionsMore.value = idleState();
      pagedPastFirst = false;
      session.value = null;
      sessionState.value = idleState();
    },
  );

  return {
    sessions,
    sessionsState,
    session: shown,
    sessionState,
    sending,
    editing,
    moreSessions,
    sessionsMore,
    sessionsNotShown,
    bubbles,
    activeAnswer,
    loadSessions,
    open,
    send,
    stopAnswer,
    rename,
    remove,
    loadMoreSessions,
  };
});

if (import.meta.hot) import.meta.hot.accept(acceptHMRUpdate(useChatStore, import.meta.hot));
