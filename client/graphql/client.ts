import { Client, fetchExchange, subscriptionExchange } from '@urql/core';
import { createClient as createWsClient, type Client as WsClient } from 'graphql-ws';

/** What the connection reports to whoever watches it (the connection store). */
export interface ConnectionListeners {
  /** The socket is open and acknowledged; `wasRetry` is true after a reconnect. */
  onConnected?: (wasRetry: boolean) => void;
  /** The socket closed; graphql-ws is retrying with backoff. */
  onClosed?: () => void;
}

export interface GraphqlClientOptions extends ConnectionListeners {
  /** HTTP endpoint; same-origin `/graphql` in the browser, an absolute URL in tests. */
  url: string;
  /** WebSocket endpoint; derived from `url` (and the page's origin) when omitted. */
  wsUrl?: string;
  /**
   * The auth seam: returns the value of the Authorization header ("Bearer <token>"), or undefined
   * while the API is open. It is read on every request and on every (re)connect, so a token set
   * later takes effect without rebuilding the clients.
   */
  getAuthorization?: () => string | undefined;
  /** A WebSocket implementation for Node (tests); browsers use the global one. */
  webSocketImpl?: unknown;
  /** Ping interval of the graphql-ws keep-alive. */
  keepAliveMs?: number;
}

export interface GraphqlClients {
  client: Client;
  ws: WsClient;
  /** Closes the socket and every subscription; used by tests and on app teardown. */
  dispose(): Promise<void>;
}

const MAX_RETRY_WAIT_MS = 15_000;

/** Waits 0.5 s, 1 s, 2 s, ... up to 15 s, with jitter so many tabs do not reconnect in lockstep. */
function backoff(retries: number): Promise<void> {
  const base = Math.min(MAX_RETRY_WAIT_MS, 500 * 2 ** retries);
  const wait = base / 2 + Math.random() * (base / 2);
  return new Promise((resolve) => setTimeout(resolve, wait));
}

function toWsUrl(url: string): string {
  const base = typeof location === 'undefined' ? undefined : location.href;
  const absolute = new URL(url, base);
  absolute.protocol = absolute.protocol === 'https:' ? 'wss:' : 'ws:';
  return absolute.toString();
}

/**
 * Creates the app's one graphql-ws connection (reconnecting forever with backoff, keep-alive pings)
 * and the urql client that sends queries and mutations over HTTP and subscriptions over that socket.
 */
export function createGraphqlClients(options: GraphqlClientOptions): GraphqlClients {
  const { getAuthorization } = options;
  const ws = createWsClient({
    url: options.wsUrl ?? toWsUrl(options.url),
    webSocketImpl: options.webSocketImpl,
    keepAlive: options.keepAliveMs ?? 10_000,
    retryAttempts: Number.POSITIVE_INFINITY,
    shouldRetry: () => true,
    retryWait: backoff,
    connectionParams: () => {
      const authorization = getAuthorization?.();
      return authorization ? { authorization } : {};
    },
    on: {
      connected: (_socket, _payload, wasRetry) => options.onConnected?.(wasRetry),
      closed: () => options.onClosed?.(),
    },
  });

  const client = new Client({
    url: options.url,
    // The Pinia stores are the cache; every query asks the server.
    requestPolicy: 'network-only',
    preferGetMethod: false,
    fetchOptions: () => {
      const authorization = getAuthorization?.();
      return authorization ? { headers: { authorization } } : {};
    },
    exchanges: [
      fetchExchange,
      subscriptionExchange({
        forwardSubscription(request) {
          const input = { ...request, query: request.query ?? '' };
          return {
            subscribe(sink) {
              const unsubscribe = ws.subscribe(input, sink);
              return { unsubscribe };
            },
          };
        },
      }),
    ],
  });

  return { client, ws, dispose: () => ws.dispose() as Promise<void> };
}
