import { createClient, type Client } from 'graphql-ws';
import WebSocket from 'ws';
import { createApp, type App, type AppOptions } from '../../server/app.ts';
import type { Config } from '../../server/config.ts';
import { deferCleanup } from './cleanup.ts';
import { tempDir } from './stores.ts';

export interface GqlResult<T = Record<string, any>> {
  status: number;
  data?: T;
  errors?: { message: string; extensions?: { code?: string; [k: string]: unknown } }[];
}

export interface TestApp {
  app: App;
  url: string;
  dataDir: string;
  /** A GraphQL request over real HTTP. */
  gql<T = Record<string, any>>(query: string, variables?: Record<string, unknown>, headers?: Record<string, string>): Promise<GqlResult<T>>;
  /** A graphql-ws client over a real WebSocket; closed by stop(). */
  ws(connectionParams?: Record<string, unknown>): Client;
  /** Stops the app (graceful), closes ws clients; keeps the data folder unless `remove` is set. */
  stop(options?: { remove?: boolean }): Promise<void>;
}

/** What a test may set: any config field, and jobs of its own (each replaces the default of its kind). */
export type TestAppOptions = Partial<Config> & Pick<AppOptions, 'jobs' | 'wrapStore' | 'warmThreads'>;

/** Starts the real app in-process on port 0 with its own data folder (or the given one). */
export async function startTestApp(options: TestAppOptions = {}): Promise<TestApp> {
  const { jobs, wrapStore, warmThreads = false, ...overrides } = options;
  const dir = overrides.dataDir ? null : tempDir();
  const dataDir = overrides.dataDir ?? dir!.path;
  const app = createApp({ port: 0, allowPrivateNetworks: true, logLevel: 'silent', ...overrides, dataDir }, { jobs, wrapStore, warmThreads });
  const { url } = await app.start();
  const clients: Client[] = [];
  return {
    app,
    url,
    dataDir,
    async gql(query, variables, headers) {
      const res = await fetch(`${url}/graphql`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...headers },
        body: JSON.stringify({ query, variables }),
      });
      const body = (await res.json()) as GqlResult<any>;
      return { ...body, status: res.status };
    },
    ws(connectionParams) {
      const client = createClient({
        url: `${url.replace('http', 'ws')}/graphql`,
        webSocketImpl: WebSocket,
        connectionParams,
        retryAttempts: 0,
        lazy: true,
      });
      clients.push(client);
      return client;
    },
    async stop(options) {
      await Promise.all(clients.map((c) => c.dispose()));
      await app.stop();
      if (options?.remove ?? true) dir?.remove();
    },
  };
}

/** startTestApp, stopped (and its data folder removed) after the current test by the cleanup registry. */
export async function appForTest(options: TestAppOptions = {}): Promise<TestApp> {
  const app = await startTestApp(options);
  deferCleanup(() => app.stop());
  return app;
}

/** A subscription whose payloads are collected; `until` resolves once a payload matches. */
export interface Collector<T> {
  items: T[];
  /** Resolves when the server completes the subscription (or rejects with its error). */
  done: Promise<void>;
  until(predicate: (item: T) => boolean): Promise<T>;
  close(): void;
}

export function collect<T>(client: Client, query: string, variables: Record<string, unknown>, field: string): Collector<T> {
  const items: T[] = [];
  const waiters: { predicate: (item: T) => boolean; resolve: (item: T) => void; reject: (e: unknown) => void }[] = [];
  let finish!: () => void;
  let fail!: (e: unknown) => void;
  const done = new Promise<void>((resolve, reject) => {
    finish = resolve;
    fail = reject;
  });
  done.catch(() => {});
  const unsubscribe = client.subscribe<Record<string, T>>(
    { query, variables },
    {
      next: (result) => {
        if (result.errors?.length) return fail(Object.assign(new Error(result.errors[0]!.message), { errors: result.errors }));
        const item = result.data![field]!;
        items.push(item);
        for (const w of [...waiters]) {
          if (w.predicate(item)) {
            waiters.splice(waiters.indexOf(w), 1);
            w.resolve(item);
          }
        }
      },
      error: (e) => {
        fail(e);
        for (const w of waiters.splice(0)) w.reject(e);
      },
      complete: () => {
        finish();
        for (const w of waiters.splice(0)) w.reject(new Error('subscription completed before the awaited item'));
      },
    },
  );
  return {
    items,
    done,
    until(predicate) {
      const found = items.find(predicate);
      if (found) return Promise.resolve(found);
      return new Promise((resolve, reject) => waiters.push({ predicate, resolve, reject }));
    },
    close: unsubscribe,
  };
}

export const JOB_PROGRESS = /* GraphQL */ `
  subscription ($id: ID!, $after: Int) {
    jobProgress(executionId: $id, afterSeq: $after) {
      executionId seq type status message
      progress { percent stage pagesDiscovered pagesFetched pagesFailed pagesSkipped bytesFetched chunksStored }
    }
  }
`;

export interface EventPayload {
  executionId: string;
  seq: number;
  type: string;
  status: string;
  message: string | null;
  progress: { percent: number | null; stage: string; pagesFetched: number; pagesDiscovered: number; pagesFailed: number; pagesSkipped: number; chunksStored: number; bytesFetched: number };
}

const TERMINAL = ['SUCCEEDED', 'FAILED', 'CANCELLED', 'INTERRUPTED'];

/** A STATUS event that ends its execution. */
export const isTerminalEvent = (e: EventPayload): boolean => e.type === 'STATUS' && TERMINAL.includes(e.status);

export const START_CRAWL = /* GraphQL */ `
  mutation ($input: StartCrawlInput!) { startCrawl(input: $input) { id status title lastSeq } }
`;

export const CANCEL = /* GraphQL */ `
  mutation ($id: ID!, $reason: String) {
    cancelExecution(id: $id, reason: $reason) { accepted execution { id status cancelReason } }
  }
`;

export const EXECUTION = /* GraphQL */ `
  query ($id: ID!) {
    execution(id: $id) {
      id status error lastSeq attempt cancelReason node result: title
      progress { percent stage pagesFetched pagesDiscovered pagesFailed pagesSkipped chunksStored }
    }
  }
`;
