// Shared set-up of the client store tests: a Pinia whose connection store talks to the real server
// (started in-process with startTestApp) over real HTTP and graphql-ws.
import { createPinia, setActivePinia } from 'pinia';
import { watch } from 'vue';
import WebSocket from 'ws';
import { useConnectionStore } from '../../client/stores/connection.ts';
import { useExecutionsStore } from '../../client/stores/executions.ts';
import { useToastsStore } from '../../client/stores/toasts.ts';
import type { Execution, Progress } from '../../client/graphql/documents.ts';
import { initialProgress } from '../../server/executions/progress.ts';
import type { TestApp } from './app.ts';
import { deferCleanup } from './cleanup.ts';

/** A fresh Pinia connected to the server, as main.ts does in the browser. */
export function freshStores(server: Pick<TestApp, 'url'>) {
  setActivePinia(createPinia());
  const connection = useConnectionStore();
  connection.connect({ url: `${server.url}/graphql`, webSocketImpl: WebSocket, keepAliveMs: 2_000 });
  const executions = useExecutionsStore();
  const toasts = useToastsStore();
  return {
    connection,
    executions,
    toasts,
    async dispose() {
      executions.stop();
      toasts.clear();
      await connection.disconnect();
    },
  };
}

/** freshStores, disposed of after the current test by the cleanup registry. */
export function storesForTest(server: Pick<TestApp, 'url'>): ReturnType<typeof freshStores> {
  const stores = freshStores(server);
  deferCleanup(() => stores.dispose());
  return stores;
}

/** Resolves once `predicate` holds (checked now and on every reactive change), or fails after `ms`. */
export function until(predicate: () => boolean, ms = 15_000, what = 'condition'): Promise<void> {
  if (predicate()) return Promise.resolve();
  return new Promise((resolve, reject) => {
    const stop = watch(
      predicate,
      (ok) => {
        if (!ok) return;
        clearTimeout(timer);
        stop();
        resolve();
      },
      { flush: 'sync' },
    );
    const timer = setTimeout(() => {
      stop();
      reject(new Error(`timed out waiting for ${what}`));
    }, ms);
  });
}

/** The progress of a crawl that is fetching and has counted nothing yet, with `overrides`. */
export function fakeProgress(overrides: Partial<Progress> = {}): Progress {
  return { ...initialProgress(), stage: 'fetching', ...overrides };
}

/** A snapshot as the server would send it, for executions the server does not know. */
export function fakeExecution(id: string, overrides: Partial<Execution> = {}): Execution {
  return {
    id,
    kind: 'CRAWL',
    status: 'RUNNING',
    title: `https://example.test/${id}`,
    sessionId: null,
    createdAt: new Date().toISOString(),
    startedAt: new Date().toISOString(),
    finishedAt: null,
    durationMs: 0,
    progress: fakeProgress(),
    cancelRequestedAt: null,
    cancelReason: null,
    error: null,
    lastSeq: 0,
    node: null,
    ...overrides,
  };
}
