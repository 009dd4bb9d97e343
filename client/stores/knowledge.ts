import { acceptHMRUpdate, defineStore } from 'pinia';
import { computed, ref, watch } from 'vue';
import {
  DeleteKnowledgeSourceMutation,
  KnowledgeSourcesQuery,
  SearchKnowledgeQuery,
} from '../graphql/documents.ts';
import { toAppError } from '../graphql/errors.ts';
import type { KnowledgeHit, KnowledgeSource } from '../graphql/documents.ts';
import { idleState, intoState, type AsyncState } from '../lib/async.ts';
import { useAuthStore } from './auth.ts';
import { useConnectionStore } from './connection.ts';
import { useExecutionsStore } from './executions.ts';
import { useToastsStore } from './toasts.ts';

const SEARCH_LIMIT = 20;

/** The knowledge base: its sources (what was crawled), search, and deleting a source. */
export const useKnowledgeStore = defineStore('knowledge', () => {
  const connection = useConnectionStore();
  const auth = useAuthStore();
  const executions = useExecutionsStore();
  const toasts = useToastsStore();

  const sources = ref<KnowledgeSource[]>([]);
  const sourcesState = ref<AsyncState>(idleState());
  const hits = ref<KnowledgeHit[]>([]);
  const searchState = ref<AsyncState>(idleState());
  const searchedFor = ref('');
  const deleting = ref<string[]>([]);

  const totals = computed(() => ({
    pages: sources.value.reduce((sum, source) => sum + source.pages, 0),
    chunks: sources.value.reduce((sum, source) => sum + source.chunks, 0),
  }));

  async function loadSources(): Promise<void> {
    const request = connection.client().query(KnowledgeSourcesQuery, {}).toPromise();
    await intoState(sourcesState, request, (data) => (sources.value = data.knowledgeSources), { quiet: true });
  }

  async function search(query: string): Promise<void> {
    const text = query.trim();
    searchedFor.value = text;
    if (!text) {
      hits.value = [];
      searchState.value = idleState();
      return;
    }
    const request = connection.client().query(SearchKnowledgeQuery, { query: text, limit: SEARCH_LIMIT }).toPromise();
    await intoState(searchState, request, (data) => (hits.value = data.searchKnowledge), {
      current: () => searchedFor.value === text, // else a newer search has started
    });
  }

  async function deleteSource(id: string): Promise<boolean> {
    const source = sources.value.find((candidate) => candidate.id === id);
    deleting.value = [...deleting.value, id];
    const result = await connection.client().mutation(DeleteKnowledgeSourceMutation, { id }).toPromise();
    deleting.value = deleting.value.filter((candidate) => candidate !== id);
    if (result.error || !result.data?.deleteKnowledgeSource.deleted) {
      const error = result.error ? toAppError(result.error) : null;
      // FORBIDDEN has its own toast (naming the scope), from the connection store.
      if (error?.code !== 'FORBIDDEN') {
        toasts.push({ tone: 'error', title: 'Could not delete source', message: error?.message ?? 'The server did not delete it.' });
      }
      return false;
    }
    sources.value = sources.value.filter((candidate) => candidate.id !== id);
    toasts.push({ tone: 'success', title: 'Source deleted', message: source?.url ?? id });
    if (searchedFor.value) void search(searchedFor.value);
    return true;
  }

  // A crawl that ends changes the sources: refresh them if they were loaded.
  watch(
    () => executions.list({ kind: 'CRAWL', statuses: ['SUCCEEDED', 'CANCELLED', 'FAILED'] }).length,
    () => {
      if (sourcesState.value.status === 'ready') void loadSources();
    },
  );

  // Signed out: forget what the previous token could read.
  watch(
    () => connection.epoch,
    () => {
      if (auth.signedIn) return;
      sources.value = [];
      sourcesState.value = idleState();
      hits.value = [];
      searchState.value = idleState();
    },
  );

  return { sources, sourcesState, totals, hits, searchState, searchedFor, deleting, loadSources, search, deleteSource };
});

if (import.meta.hot) import.meta.hot.accept(acceptHMRUpdate(useKnowledgeStore, import.meta.hot));
