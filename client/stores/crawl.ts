import { acceptHMRUpdate, defineStore } from 'pinia';
import { ref } from 'vue';
import { StartCrawlMutation } from '../graphql/documents.ts';
import type { Execution, StartCrawlInput } from '../graphql/documents.ts';
import { idleState, intoState, type AsyncState } from '../lib/async.ts';
import { useConnectionStore } from './connection.ts';
import { useExecutionsStore } from './executions.ts';

/** Starting crawls. The crawls themselves live in the executions store like any execution. */
export const useCrawlStore = defineStore('crawl', () => {
  const connection = useConnectionStore();
  const executions = useExecutionsStore();
  const starting = ref<AsyncState>(idleState());

  /** Starts a crawl; on a BAD_USER_INPUT the error (with its field) is in `starting.error`. */
  async function startCrawl(input: StartCrawlInput): Promise<Execution | null> {
    const request = connection.client().mutation(StartCrawlMutation, { input }).toPromise();
    const data = await intoState(starting, request, (data) => executions.ingest(data.startCrawl, { mine: true }));
    return data?.startCrawl ?? null;
  }

  function resetError(): void {
    if (starting.value.status === 'error') starting.value = idleState();
  }

  return { starting, startCrawl, resetError };
});

if (import.meta.hot) import.meta.hot.accept(acceptHMRUpdate(useCrawlStore, import.meta.hot));
