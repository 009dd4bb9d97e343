import { defineStore } from 'pinia';
import { ref } from 'vue';
import { StartCrawlMutation } from '../graphql/documents.ts';
import { toAppError } from '../graphql/errors.ts';
import type { Execution, StartCrawlInput } from '../graphql/documents.ts';
import { idleState, type AsyncState } from '../lib/async.ts';
import { useConnectionStore } from './connection.ts';
import { useExecutionsStore } from './executions.ts';

/** Starting crawls. The crawls themselves live in the executions store like any execution. */
export const useCrawlStore = defineStore('crawl', () => {
  const connection = useConnectionStore();
  const executions = useExecutionsStore();
  const starting = ref<AsyncState>(idleState());

  /** Starts a crawl; on a BAD_USER_INPUT the error (with its field) is in `starting.error`. */
  async function startCrawl(input: StartCrawlInput): Promise<Execution | null> {
    starting.value = { status: 'loading', error: null };
    const result = await connection.client().mutation(StartCrawlMutation, { input }).toPromise();
    if (result.error || !result.data) {
      starting.value = { status: 'error', error: toAppError(result.error ?? new Error('No answer from the server')) };
      return null;
    }
    executions.ingest(result.data.startCrawl, { mine: true });
    starting.value = { status: 'ready', error: null };
    return result.data.startCrawl;
  }

  function resetError(): void {
    if (starting.value.status === 'error') starting.value = idleState();
  }

  return { starting, startCrawl, resetError };
});
