import { acceptHMRUpdate, defineStore } from 'pinia';
import { computed, ref, shallowRef, watch } from 'vue';
import { useDocumentVisibility, useEventListener } from '@vueuse/core';
import type { Client } from '@urql/core';
import {
  createGraphqlClients,
  WS_UNAUTHORIZED,
  type ForbiddenError,
  type GraphqlClientOptions,
  type GraphqlClients,
} from '../graphql/client.ts';
import { useAuthStore } from './auth.ts';
import { useToastsStore } from './toasts.ts';

/**
 * `unauthorized`: the server closed the socket with 4401 and waits for a token (no retries).
 * `failed`: closed with a code graphql-ws does not retry (4500, 4400, …): only `reconnect()` helps.
 */
export type ConnectionState = 'connecting' | 'online' | 'reconnecting' | 'unauthorized' | 'failed';

type ConnectOptions = Omit<GraphqlClientOptions, 'onConnected' | 'onClosed' | 'onUnauthenticated' | 'onForbidden'>;

/**
 * Holds the app's one urql client and graphql-ws connection, and what the socket is doing.
 * `reconnects` counts the reconnects so the other stores can catch up after each one; `epoch`
 * counts sign-ins and sign-outs, after which the stores start over with the new credentials.
 * The token itself is the auth store's; this store sends it and reports what the server says of it.
 */
export const useConnectionStore = defineStore('connection', () => {
  const auth = useAuthStore();
  const toasts = useToastsStore();

  const clients = shallowRef<GraphqlClients | null>(null);
  const state = ref<ConnectionState>('connecting');
  const reconnects = ref(0);
  const epoch = ref(0);
  /** A token typed in the dialog is being checked with the server. */
  const checking = ref(false);
  const online = computed(() => state.value === 'online');
  /** Why the socket gave up, when `state` is `failed`. */
  const failure = ref<string | null>(null);

  /** Creates the clients once; later calls are ignored so the app never holds two sockets. */
  function connect(options: ConnectOptions): void {
    if (clients.value) return;
    clients.value = createGraphqlClients({
      getAuthorization: () => auth.authorization(),
      ...options,
      onConnected(wasRetry) {
        state.value = 'online';
        if (wasRetry) reconnects.value += 1;
      },
      onClosed(code, fatal, reason) {
        if (code === WS_UNAUTHORIZED) state.value = 'unauthorized';
        else if (fatal) {
          state.value = 'failed';
          failure.value = `The server closed the connection (${code}${reason ? `: ${reason}` : ''}).`;
        } else if (state.value !== 'reconnecting') state.value = 'reconnecting';
      },
      onUnauthenticated: (message, sent) => auth.demand(message, sent),
      onForbidden: announceForbidden,
    });
  }

  /** A FORBIDDEN answer: one toast naming the scope the token lacks (not one per request). */
  function announceForbidden(error: ForbiddenError): void {
    const title = error.requiredScope ? `Your token lacks the "${error.requiredScope}" scope` : 'Not allowed';
    if (toasts.toasts.some((toast) => toast.title === title && toast.message === error.message)) return;
    toasts.push({ tone: 'error', title, message: error.message });
  }

  // Back online, or the tab shown again after a sleep: reconnect now rather than after the backoff,
  // and ping an open socket so a dead one is noticed within the pong timeout.
  useEventListener(typeof window === 'undefined' ? undefined : window, 'online', () => clients.value?.checkNow());
  const visibility = useDocumentVisibility();
  watch(visibility, (now) => {
    if (now === 'visible') clients.value?.checkNow();
  });

  /** Resolves once the first connection attempt has an outcome (acknowledged, refused or given up). */
  function settled(): Promise<void> {
    if (state.value !== 'connecting') return Promise.resolve();
    return new Promise((resolve) => {
      const stop = watch(state, (now) => {
        if (now === 'connecting') return;
        stop();
        resolve();
      });
    });
  }

  /** After a fatal close: a new socket; the stores start over as after a sign-in. */
  async function reconnect(): Promise<void> {
    failure.value = null;
    await restart();
  }

  /** The urql client; stores call this inside their actions. */
  function client(): Client {
    if (!clients.value) throw new Error('Sluice: connect() the GraphQL client before using a store');
    return clients.value.client;
  }

  /** A new socket with the current credentials; the stores start over (they watch `epoch`). */
  async function restart(): Promise<void> {
    const current = clients.value;
    if (!current) return;
    state.value = 'connecting';
    await current.restart();
    epoch.value += 1;
  }

  /**
   * Checks a token with the server; if it is accepted it is kept for the session and everything
   * reconnects with it. Returns false (the auth store holds the server's reason) when refused.
   */
  async function signIn(token: string): Promise<boolean> {
    const current = clients.value;
    const value = token.trim();
    if (!current || !value || checking.value) return false;
    checking.value = true;
    try {
      const answer = await current.checkAuthorization(`Bearer ${value}`);
      if (!answer.ok) {
        auth.refuse(answer.message);
        return false;
      }
      auth.accept(value);
      await restart();
      return true;
    } finally {
      checking.value = false;
    }
  }

  /** Forgets the token and reconnects without it (the server then asks for one, if it needs one). */
  async function signOut(): Promise<void> {
    auth.signOut();
    await restart();
  }

  async function disconnect(): Promise<void> {
    const current = clients.value;
    clients.value = null;
    state.value = 'connecting';
    await current?.dispose();
  }

  return { state, online, failure, reconnects, epoch, checking, connect, client, settled, restart, reconnect, signIn, signOut, disconnect };
});

if (import.meta.hot) import.meta.hot.accept(acceptHMRUpdate(useConnectionStore, import.meta.hot));
