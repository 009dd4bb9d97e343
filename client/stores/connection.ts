import { defineStore } from 'pinia';
import { computed, ref, shallowRef } from 'vue';
import type { Client } from '@urql/core';
import { createGraphqlClients, type GraphqlClientOptions, type GraphqlClients } from '../graphql/client.ts';

export type ConnectionState = 'connecting' | 'online' | 'reconnecting';

type ConnectOptions = Omit<GraphqlClientOptions, 'onConnected' | 'onClosed'>;

/**
 * Holds the app's one urql client and graphql-ws connection, and what the socket is doing.
 * `reconnects` counts the reconnects so the other stores can catch up after each one.
 */
export const useConnectionStore = defineStore('connection', () => {
  const clients = shallowRef<GraphqlClients | null>(null);
  const state = ref<ConnectionState>('connecting');
  const reconnects = ref(0);
  const online = computed(() => state.value === 'online');

  /** Creates the clients once; later calls are ignored so the app never holds two sockets. */
  function connect(options: ConnectOptions): void {
    if (clients.value) return;
    clients.value = createGraphqlClients({
      ...options,
      onConnected(wasRetry) {
        state.value = 'online';
        if (wasRetry) reconnects.value += 1;
      },
      onClosed() {
        if (state.value === 'online') state.value = 'reconnecting';
      },
    });
  }

  /** The urql client; stores call this inside their actions. */
  function client(): Client {
    if (!clients.value) throw new Error('Sluice: connect() the GraphQL client before using a store');
    return clients.value.client;
  }

  async function disconnect(): Promise<void> {
    const current = clients.value;
    clients.value = null;
    state.value = 'connecting';
    await current?.dispose();
  }

  return { state, online, reconnects, connect, client, disconnect };
});
