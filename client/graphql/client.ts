import { Client, fetchExchange, mapExchange, subscriptionExchange, type CombinedError } from '@urql/core';
import { createClient as createWsClient, type Client as WsClient } from 'graphql-ws';

/** graphql-ws close code the server uses for a missing or wrong token; the graphql-ws client never retries it. */
export const WS_UNAUTHORIZED = 4401;

/** A FORBIDDEN answer: the token is valid but lacks the scope a root field needs. */
export interface ForbiddenError {
  message: string;
  /** The root field refused, e.g. "startCrawl". */
  field?: string;
  /** The scope it needs, e.g. "execute". */
  requiredScope?: string;
}

/** What the connection reports to whoever watches it (the connection store). */
export interface ConnectionListeners {
  /** The socket is open and acknowledged; `wasRetry` is true after a reconnect. */
  onConnected?: (wasRetry: boolean) => void;
  /**
   * The socket closed. `fatal`: graphql-ws gives up (a 4401, or a code such as 4500 or 4400 that
   * retrying cannot mend); otherwise it is retrying with backoff.
   */
  onClosed?: (code: number | undefined, fatal: boolean, reason: string) => void;
  /**
   * The server wants a (valid) token: an HTTP answer with code UNAUTHENTICATED, or the socket closed
   * with 4401. `message` is the server's reason; `sent` the Authorization the refused request or
   * socket carried, so a late answer to a request sent before a token was set can be told apart.
   */
  onUnauthenticated?: (message: string, sent: string | undefined) => void;
  /** An answer with code FORBIDDEN: the token lacks a scope. */
  onForbidden?: (error: ForbiddenError) => void;
}

export interface GraphqlClientOptions extends ConnectionListeners {
  /** HTTP endpoint; same-origin `/graphql` in the browser, an absolute URL in tests. */
  url: string;
  /** WebSocket endpoint; derived from `url` (and the page's origin) when omitted. */
  wsUrl?: string;
  /**
   * The auth seam: returns the value of the Authorization header ("Bearer <token>"), or undefined
   * while the API is open. It is read on every request and on every (re)connect, so a token set
   * later takes effect without rebuilding the clients (restart() the socket to use it there at once).
   */
  getAuthorization?: () => string | undefined;
  /** A WebSocket implementation for Node (tests); browsers use the global one. */
  webSocketImpl?: unknown;
  /** Ping interval of the graphql-ws keep-alive. */
  keepAliveMs?: number;
  /** How long a ping may wait for its pong before the socket is taken for dead and replaced. */
  pongTimeoutMs?: number;
}

/** The server's answer to a token: accepted, or refused with its code and message. */
export type AuthorizationCheck = { ok: true } | { ok: false; code: string; message: string };

export interface GraphqlClients {
  client: Client;
  /** The current socket client; restart() replaces it. */
  readonly ws: WsClient;
  /**
   * Closes the socket and opens a new one (with the Authorization read afresh). Subscriptions of
   * the old socket complete; their owners subscribe again.
   */
  restart(): Promise<void>;
  /** Asks the server whether it accepts an Authorization value, without using it for anything else. */
  checkAuthorization(authorization: string): Promise<AuthorizationCheck>;
  /**
   * The network may be back (online, the tab visible again): a waiting reconnect goes at once, and
   * an open socket is pinged now, so a dead one is noticed within the pong timeout.
   */
  checkNow(): void;
  /** Closes the socket and every subscription; used by tests and on app teardown. */
  dispose(): Promise<void>;
}

const MAX_RETRY_WAIT_MS = 15_000;
const DEFAULT_PONG_TIMEOUT_MS = 5_000;

/** graphql-ws close codes after which it does not reconnect (see isFatalInternalCloseCode and its list). */
const FATAL_CLOSE_CODES = new Set([4500, 4005, 4400, 4004, 4401, 4406, 4409, 4429]);

/** True when graphql-ws will not retry after this close. */
export function isFatalClose(code: number | undefined): boolean {
  if (code === undefined) return false;
  if (FATAL_CLOSE_CODES.has(code)) return true;
  return code >= 1000 && code <= 1999 && ![1000, 1001, 1005, 1006, 1012, 1013, 1014].includes(code);
}

/**
 * Waits 0.5 s, 1 s, 2 s, ... up to 15 s, with jitter so many tabs do not reconnect in lockstep.
 * `wake` ends the current wait at once (the network is back), or the next one when the attempt in
 * flight fails; `connected` forgets a wake that was not needed.
 */
function createBackoff(): { wait(retries: number): Promise<void>; wake(): void; connected(): void } {
  let wakeUp: (() => void) | null = null;
  let woken = false;
  return {
    wait(retries) {
      if (woken) {
        woken = false;
        return Promise.resolve();
      }
      const base = Math.min(MAX_RETRY_WAIT_MS, 500 * 2 ** retries);
      const ms = base / 2 + Math.random() * (base / 2);
      return new Promise<void>((resolve) => {
        const timer = setTimeout(done, ms);
        function done(): void {
          clearTimeout(timer);
          wakeUp = null;
          resolve();
        }
        wakeUp = done;
      });
    },
    wake() {
      if (wakeUp) wakeUp();
      else woken = true;
    },
    connected() {
      woken = false;
    },
  };
}

/** A WebSocket as graphql-ws hands it to its listeners: enough to ping it by hand. */
interface OpenSocket {
  readyState: number;
  send(data: string): void;
}

function toWsUrl(url: string): string {
  const base = typeof location === 'undefined' ? undefined : location.href;
  const absolute = new URL(url, base);
  absolute.protocol = absolute.protocol === 'https:' ? 'wss:' : 'ws:';
  return absolute.toString();
}

function closeCode(event: unknown): number | undefined {
  return typeof event === 'object' && event !== null && 'code' in event && typeof event.code === 'number' ? event.code : undefined;
}

function closeReason(event: unknown): string {
  return typeof event === 'object' && event !== null && 'reason' in event && typeof event.reason === 'string' ? event.reason : '';
}

/**
 * Creates the app's one graphql-ws connection (reconnecting forever with backoff, keep-alive pings)
 * and the urql client that sends queries and mutations over HTTP and subscriptions over that socket.
 * Answers that say the token is missing, wrong (UNAUTHENTICATED, 4401) or lacks a scope (FORBIDDEN)
 * are reported to the listeners; the stores still get them as errors.
 */
export function createGraphqlClients(options: GraphqlClientOptions): GraphqlClients {
  const { getAuthorization } = options;

  const backoff = createBackoff();
  const pongTimeoutMs = options.pongTimeoutMs ?? DEFAULT_PONG_TIMEOUT_MS;
  /** The open socket of the current client, to ping it by hand (checkNow). */
  let socket: OpenSocket | null = null;
  let pongTimer: ReturnType<typeof setTimeout> | undefined;

  // graphql-ws pings but never gives up on a socket whose pongs stop (a laptop that slept, a Wi-Fi
  // that changed): a pong that does not come in time terminates it, which graphql-ws then retries.
  const awaitPong = (client: () => WsClient): void => {
    clearTimeout(pongTimer);
    pongTimer = setTimeout(() => client().terminate(), pongTimeoutMs);
  };

  // Each socket client gets a number; events of one that restart() replaced are not reported.
  let generation = 0;
  const createWs = (): WsClient => {
    const mine = ++generation;
    const current = () => mine === generation;
    let sent: string | undefined;
    const client: WsClient = createWsClient({
      url: options.wsUrl ?? toWsUrl(options.url),
      webSocketImpl: options.webSocketImpl,
      keepAlive: options.keepAliveMs ?? 10_000,
      retryAttempts: Number.POSITIVE_INFINITY,
      // graphql-ws never retries a 4401 whatever this says: a wrong token stays wrong until it changes.
      shouldRetry: () => true,
      retryWait: (retries) => backoff.wait(retries),
      connectionParams: () => {
        const authorization = getAuthorization?.();
        sent = authorization;
        return authorization ? { authorization } : {};
      },
      on: {
        connected: (opened, _payload, wasRetry) => {
          if (!current()) return;
          socket = opened as OpenSocket;
          backoff.connected();
          options.onConnected?.(wasRetry);
        },
        ping: (received) => {
          if (!received && current()) awaitPong(() => client);
        },
        pong: (received) => {
          if (received && current()) clearTimeout(pongTimer);
        },
        closed: (event) => {
          if (!current()) return;
          socket = null;
          clearTimeout(pongTimer);
          const code = closeCode(event);
          options.onClosed?.(code, isFatalClose(code), closeReason(event));
          if (code === WS_UNAUTHORIZED) options.onUnauthenticated?.(closeReason(event) || 'Unauthorized', sent);
        },
      },
    });
    return client;
  };
  let ws = createWs();

  function checkNow(): void {
    const open = socket;
    if (!open) return backoff.wake();
    if (open.readyState !== 1) return;
    open.send(JSON.stringify({ type: 'ping' }));
    awaitPong(() => ws);
  }

  const inspect = (error: CombinedError | undefined): void => {
    for (const graphQLError of error?.graphQLErrors ?? []) {
      const { code, field, requiredScope } = graphQLError.extensions ?? {};
      if (code === 'FORBIDDEN') {
        options.onForbidden?.({
          message: graphQLError.message,
          ...(typeof field === 'string' ? { field } : {}),
          ...(typeof requiredScope === 'string' ? { requiredScope } : {}),
        });
      }
    }
  };

  const client = new Client({
    url: options.url,
    // The Pinia stores are the cache; every query asks the server.
    requestPolicy: 'network-only',
    preferGetMethod: false,
    fetchOptions: () => {
      const authorization = getAuthorization?.();
      return authorization ? { headers: { authorization } } : {};
    },
    // A 401 (UNAUTHENTICATED) is reported here, where the Authorization it was sent with is known.
    fetch: async (input, init) => {
      const response = await fetch(input, init);
      if (response.status === 401) {
        const sent = new Headers(init?.headers).get('authorization') ?? undefined;
        void response
          .clone()
          .json()
          .then((body: { errors?: { message?: string }[] }) => body.errors?.[0]?.message)
          .catch(() => undefined)
          .then((message) => options.onUnauthenticated?.(message ?? 'Unauthorized', sent));
      }
      return response;
    },
    exchanges: [
      mapExchange({ onResult: (result) => inspect(result.error) }),
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

  async function checkAuthorization(authorization: string): Promise<AuthorizationCheck> {
    const url = new URL(options.url, typeof location === 'undefined' ? undefined : location.href);
    let response: Response;
    try {
      response = await fetch(url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', accept: 'application/graphql-response+json, application/json', authorization },
        // Needs no scope: any token the server knows passes.
        body: JSON.stringify({ query: '{ __typename }' }),
      });
    } catch (error) {
      return { ok: false, code: 'NETWORK', message: `Cannot reach the server (${error instanceof Error ? error.message : String(error)})` };
    }
    if (response.ok) return { ok: true };
    const body = (await response.json().catch(() => null)) as { errors?: { message?: string; extensions?: { code?: string } }[] } | null;
    const first = body?.errors?.[0];
    return {
      ok: false,
      code: first?.extensions?.code ?? `HTTP_${response.status}`,
      message: first?.message ?? `The server answered ${response.status} ${response.statusText}`.trim(),
    };
  }

  return {
    client,
    get ws() {
      return ws;
    },
    async restart() {
      const old = ws;
      socket = null;
      clearTimeout(pongTimer);
      ws = createWs();
      // A socket still connecting may reject its dispose (e.g. with the 4401 it was about to get).
      await Promise.resolve(old.dispose()).catch(() => undefined);
    },
    checkAuthorization,
    checkNow,
    dispose: () => {
      clearTimeout(pongTimer);
      return Promise.resolve(ws.dispose()).catch(() => undefined);
    },
  };
}
