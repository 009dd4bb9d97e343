// A tiny GraphQL client for the CLI: queries and mutations over HTTP POST, subscriptions over
// graphql-ws on the same path, both carrying the token from SLUICE_TOKEN.
import type { TadaDocumentNode } from 'gql.tada';
import { print } from 'graphql';
import { createClient, type Client } from 'graphql-ws';
import WebSocket from 'ws';

/**
 * An error the CLI reports and turns into an exit code: `code` is the server's `extensions.code`
 * (NOT_FOUND, BAD_USER_INPUT, UNAUTHENTICATED, FORBIDDEN, ...) or one of the client's own:
 * UNREACHABLE (no answer) and BAD_RESPONSE (an answer that is not GraphQL).
 */
export class ApiError extends Error {
  override readonly name = 'ApiError';
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

export interface ApiOptions {
  /** The server's base URL, e.g. http://127.0.0.1:4000 (a trailing /graphql is accepted). */
  url: string;
  token?: string;
  /** Aborts requests in flight (Ctrl-C). */
  signal?: AbortSignal;
  /** How long one HTTP request may take; default 30 s. */
  timeoutMs?: number;
  /** How many times in a row a dropped subscription socket is reconnected; default 10. */
  retryAttempts?: number;
}

/** The variables of a subscription; the object is re-sent as it is at each reconnect (see subscribe). */
export type Variables = Record<string, unknown>;

/** A document typed from the schema (cli/execution.ts): its result and variables types come with it. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- the widest document type, narrowed at each call
export type Operation<T = any, V = any> = TadaDocumentNode<T, V>;

export interface SubscriptionSink<T> {
  next(data: T): void;
  error(error: ApiError): void;
  complete(): void;
  /** The socket dropped and a reconnect is being attempted. */
  reconnecting?(): void;
  /** Connected (again) and subscribed. */
  connected?(): void;
}

export interface Api {
  /** The GraphQL endpoint, for messages. */
  readonly endpoint: string;
  request<T, V extends Variables>(document: Operation<T, V>, variables: V): Promise<T>;
  /** Subscribes; returns a function that stops it. Reconnects with back-off while the socket drops. */
  subscribe<T, V extends Variables>(document: Operation<T, V>, variables: V, sink: SubscriptionSink<T>): () => void;
  /** Closes the WebSocket, if one was opened. */
  close(): Promise<void>;
}

interface GraphQLBody {
  data?: unknown;
  errors?: { message: string; extensions?: { code?: string } }[];
}

/** The GraphQL endpoint for a base URL: http(s)://host[:port][/prefix]/graphql. */
export function graphqlEndpoint(base: string): string {
  const url = new URL(base);
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new TypeError(`not an http(s) URL: ${base}`);
  const path = url.pathname.replace(/\/+$/, '').replace(/\/graphql$/, '');
  return `${url.origin}${path}/graphql`;
}

/** Builds the client; nothing is connected until the first request or subscription. */
export function createApi(options: ApiOptions): Api {
  const endpoint = graphqlEndpoint(options.url);
  const authorization = options.token ? `Bearer ${options.token}` : undefined;
  let ws: Client | undefined;

  const request = async <T, V extends Variables>(document: Operation<T, V>, variables: V): Promise<T> => {
    const query = print(document);
    const timeout = AbortSignal.timeout(options.timeoutMs ?? 30_000);
    let res: Response;
    try {
      res = await fetch(endpoint, {
        method: 'POST',
        headers: { 'content-type': 'application/json', accept: 'application/json', ...(authorization ? { authorization } : {}) },
        body: JSON.stringify({ query, variables }),
        signal: options.signal ? AbortSignal.any([options.signal, timeout]) : timeout,
      });
    } catch (error) {
      if (options.signal?.aborted) throw error;
      throw unreachable(endpoint, error);
    }
    const body = (await res.json().catch(() => null)) as GraphQLBody | null;
    const first = body?.errors?.[0];
    if (first) throw new ApiError(first.extensions?.code ?? codeForHttpStatus(res.status), first.message);
    if (res.status === 401 || res.status === 403) throw new ApiError(codeForHttpStatus(res.status), `the server refused the request (HTTP ${res.status})`);
    if (!body || body.data === undefined || body.data === null)
      throw new ApiError('BAD_RESPONSE', `${endpoint} answered HTTP ${res.status} without a GraphQL result`);
    return body.data as T;
  };

  const socket = (): Client =>
    (ws ??= createClient({
      url: endpoint.replace(/^http/, 'ws'),
      webSocketImpl: WebSocket,
      connectionParams: authorization ? { authorization } : undefined,
      lazy: true,
      retryAttempts: options.retryAttempts ?? 10,
      // Exponential back-off capped at 15 s, with jitter so many watchers do not reconnect at once.
      retryWait: (retries) => new Promise((resolve) => setTimeout(resolve, Math.min(1000 * 2 ** retries, 15_000) + Math.random() * 500)),
      // A refused token does not get better by retrying.
      shouldRetry: (e) => isCloseEvent(e) && e.code !== 4401 && e.code !== 4403,
    }));

  const subscribe = <T, V extends Variables>(document: Operation<T, V>, variables: V, sink: SubscriptionSink<T>): (() => void) => {
    const query = print(document);
    const client = socket();
    let connects = 0;
    let settled = false;
    const offConnected = client.on('connected', () => {
      if (connects++ > 0) sink.connected?.();
    });
    const offClosed = client.on('closed', () => sink.reconnecting?.());
    const stop = () => {
      settled = true;
      offConnected();
      offClosed();
    };
    // A resolver error arrives as a result with errors, followed by complete: report only the error.
    const fail = (error: ApiError) => {
      if (settled) return;
      stop();
      sink.error(error);
    };
    // graphql-ws serialises this same payload object again on every reconnect, so a caller that
    // updates `variables` (e.g. afterSeq) resumes where it left off instead of starting over.
    const unsubscribe = client.subscribe<T>(
      { query, variables },
      {
        next: (result) => {
          const first = result.errors?.[0];
          if (first) return fail(new ApiError(String(first.extensions?.code ?? 'INTERNAL'), first.message));
          if (!settled) sink.next(result.data as T);
        },
        error: (error) => fail(subscriptionError(endpoint, error)),
        complete: () => {
          if (settled) return;
          stop();
          sink.complete();
        },
      },
    );
    return () => {
      stop();
      unsubscribe();
    };
  };

  return {
    endpoint,
    request,
    subscribe,
    async close() {
      await ws?.dispose();
    },
  };
}

function codeForHttpStatus(status: number): string {
  if (status === 401) return 'UNAUTHENTICATED';
  if (status === 403) return 'FORBIDDEN';
  return 'INTERNAL';
}

function unreachable(endpoint: string, error: unknown): ApiError {
  if (error instanceof Error && error.name === 'TimeoutError') return new ApiError('UNREACHABLE', `${endpoint} did not answer in time`);
  const cause = error instanceof Error && error.cause instanceof Error ? error.cause : error;
  const detail = (cause as { code?: string }).code ?? (cause instanceof Error ? cause.message : String(cause));
  return new ApiError('UNREACHABLE', `cannot reach ${endpoint} (${detail})`);
}

function isCloseEvent(value: unknown): value is { code: number; reason: string } {
  return typeof value === 'object' && value !== null && 'code' in value && typeof (value as { code: unknown }).code === 'number';
}

function subscriptionError(endpoint: string, error: unknown): ApiError {
  if (Array.isArray(error)) {
    const first = error[0] as { message?: string; extensions?: { code?: string } } | undefined;
    return new ApiError(first?.extensions?.code ?? 'INTERNAL', first?.message ?? 'the subscription failed');
  }
  if (isCloseEvent(error)) {
    if (error.code === 4401) return new ApiError('UNAUTHENTICATED', error.reason || 'the server refused the token');
    if (error.code === 4403) return new ApiError('FORBIDDEN', error.reason || 'the token may not do this');
    return new ApiError('UNREACHABLE', `lost the connection to ${endpoint} (WebSocket closed: ${error.code}${error.reason ? ` ${error.reason}` : ''})`);
  }
  if (error instanceof Error) return new ApiError('UNREACHABLE', `lost the connection to ${endpoint} (${error.message})`);
  return new ApiError('UNREACHABLE', `lost the connection to ${endpoint}`);
}
