// Pure reconciliation of the client (client/lib/reconcile.ts) and the async-state helper
// (client/lib/async.ts), as plain functions: no DOM, no server, no Pinia.
import { describe, expect, it } from 'vitest';
import { ref } from 'vue';
import type { ExecutionEvent } from '../../client/graphql/documents.ts';
import { intoState, idleState } from '../../client/lib/async.ts';
import {
  applyEvent,
  applySnapshot,
  capEndedCards,
  canPause,
  canResume,
  displayStatus,
  elapsedMs,
  evictable,
  firstCursor,
  isLive,
  MAX_LOG_LINES,
  mergeProgress,
  newEntry,
  settleEnd,
} from '../../client/lib/reconcile.ts';
import { fakeExecution, fakeProgress } from '../helpers/client-helpers.ts';

const ID = '22222222-2222-2222-2222-222222222222';

const progress = fakeProgress;

function event(seq: number, overrides: Partial<ExecutionEvent> = {}): ExecutionEvent {
  return {
    executionId: ID,
    seq,
    at: new Date(1_000 * seq).toISOString(),
    type: 'PROGRESS',
    status: 'RUNNING',
    message: null,
    progress: progress(),
    ...overrides,
  };
}

describe('mergeProgress', () => {
  it('never lets the percent or a counter go down, and keeps a known percent over null', () => {
    const old = progress({ percent: 40, pagesFetched: 10, chunksStored: 7 });
    const merged = mergeProgress(old, progress({ percent: 30, pagesFetched: 8, pagesDiscovered: 50, stage: 'indexing' }));
    expect(merged).toMatchObject({ percent: 40, pagesFetched: 10, pagesDiscovered: 50, chunksStored: 7, stage: 'indexing' });
    expect(mergeProgress(old, progress({ percent: null })).percent).toBe(40);
    expect(mergeProgress(progress(), progress({ percent: 5 })).percent).toBe(5);
  });
});

describe('applySnapshot', () => {
  it('drops a snapshot older than what is shown', () => {
    const entry = newEntry(fakeExecution(ID, { lastSeq: 5 }), 0);
    expect(applySnapshot(entry, fakeExecution(ID, { lastSeq: 4, status: 'QUEUED' }), 1)).toBe(false);
    expect(entry.execution.status).toBe('RUNNING');
    expect(applySnapshot(entry, fakeExecution(ID, { lastSeq: 6, status: 'CANCELLING' }), 2)).toBe(true);
    expect(entry).toMatchObject({ stateSeq: 6, receivedAt: 2, execution: { status: 'CANCELLING' } });
  });

  it('never leaves a terminal state, even for a snapshot with a higher seq', () => {
    const entry = newEntry(fakeExecution(ID, { lastSeq: 9, status: 'CANCELLED' }), 0);
    expect(applySnapshot(entry, fakeExecution(ID, { lastSeq: 10, status: 'RUNNING' }), 1)).toBe(false);
    expect(entry.execution.status).toBe('CANCELLED');
  });
});

describe('applyEvent', () => {
  it('applies each seq once and keeps log lines, bounded', () => {
    const entry = newEntry(fakeExecution(ID, { lastSeq: 0 }), 0);
    expect(applyEvent(entry, event(1, { type: 'LOG', message: 'one' }))).toBe(true);
    expect(applyEvent(entry, event(1, { type: 'LOG', message: 'one' }))).toBe(false);
    expect(entry.logs.map((line) => line.message)).toEqual(['one']);
    for (let seq = 2; seq <= MAX_LOG_LINES + 10; seq++) applyEvent(entry, event(seq, { type: 'PAGE', message: `p${seq}` }));
    expect(entry.logs).toHaveLength(MAX_LOG_LINES);
    expect(entry.logs.at(-1)?.message).toBe(`p${MAX_LOG_LINES + 10}`);
    expect(entry.eventSeq).toBe(MAX_LOG_LINES + 10);
  });

  it('keeps the text of a replayed event but not its older status (a snapshot showed a later one)', () => {
    const entry = newEntry(fakeExecution(ID, { kind: 'CHAT', lastSeq: 3, status: 'CANCELLING' }), 0);
    expect(applyEvent(entry, event(2, { type: 'TOKEN', message: 'Hello' }))).toBe(false);
    expect(entry.answer).toBe('Hello');
    expect(entry.execution.status).toBe('CANCELLING');
  });

  it('records when the terminal event came, and nothing after it revives the execution', () => {
    const entry = newEntry(fakeExecution(ID, { lastSeq: 0 }), 0);
    const end = event(4, { type: 'STATUS', status: 'CANCELLED' });
    expect(applyEvent(entry, end)).toBe(true);
    expect(entry.endedAt).toBe(end.at);
    expect(applyEvent(entry, event(5, { status: 'RUNNING' }))).toBe(false);
    expect(entry.execution.status).toBe('CANCELLED');
  });
});

describe('the end of an execution', () => {
  it('is announced once, only when it was seen active, and clears a pending Stop', () => {
    const entry = newEntry(fakeExecution(ID, { lastSeq: 0 }), 0);
    entry.stopping = true;
    expect(displayStatus(entry)).toBe('CANCELLING');
    applyEvent(entry, event(1, { type: 'STATUS', status: 'CANCELLED' }));
    expect(settleEnd(entry)).toBe(true);
    expect(settleEnd(entry)).toBe(false);
    expect(entry.stopping).toBe(false);
    expect(isLive(entry)).toBe(true); // its card stays until dismissed
    expect(settleEnd(newEntry(fakeExecution(ID, { status: 'SUCCEEDED' }), 0))).toBe(false); // history, not news
  });
});

describe('elapsedMs and firstCursor', () => {
  it('ticks from the server figure while running and is fixed once ended', () => {
    const running = newEntry(fakeExecution(ID, { startedAt: new Date(0).toISOString(), durationMs: 5_000 }), 100_000);
    expect(elapsedMs(running, 102_000)).toBe(7_000);
    const ended = newEntry(
      fakeExecution(ID, { status: 'SUCCEEDED', startedAt: new Date(0).toISOString(), finishedAt: new Date(9_000).toISOString() }),
      0,
    );
    expect(elapsedMs(ended, 1e9)).toBe(9_000);
  });

  it('replays a chat answer from its first token and a crawl from its recent lines', () => {
    expect(firstCursor(fakeExecution(ID, { kind: 'CHAT', lastSeq: 80 }), 30)).toBe(0);
    expect(firstCursor(fakeExecution(ID, { kind: 'CRAWL', lastSeq: 80 }), 30)).toBe(50);
    expect(firstCursor(fakeExecution(ID, { kind: 'CRAWL', lastSeq: 10 }), 30)).toBe(0);
  });
});

describe('intoState', () => {
  it('goes loading → ready, applying the data first', async () => {
    const state = ref(idleState());
    let applied: number | null = null;
    const pending = intoState(state, Promise.resolve({ data: { n: 1 } }), (data) => (applied = data.n));
    expect(state.value.status).toBe('loading');
    expect(await pending).toEqual({ n: 1 });
    expect(applied).toBe(1);
    expect(state.value).toEqual({ status: 'ready', error: null });
  });

  it('goes to error with the message of what was thrown or missing, and applies nothing', async () => {
    const state = ref(idleState());
    let applied = false;
    expect(await intoState(state, Promise.reject(new Error('boom')), () => (applied = true))).toBeNull();
    expect(state.value).toMatchObject({ status: 'error', error: { message: 'boom' } });
    expect(await intoState(state, Promise.resolve({ data: null }))).toBeNull();
    expect(state.value.error?.message).toBe('No answer from the server');
    expect(applied).toBe(false);
  });

  it('quiet keeps ready while reloading; a superseded answer changes nothing', async () => {
    const state = ref({ status: 'ready' as const, error: null });
    const pending = intoState(state, Promise.resolve({ data: 1 }), () => {}, { quiet: true, current: () => false });
    expect(state.value.status).toBe('ready');
    expect(await pending).toBeNull();
    expect(state.value.status).toBe('ready');
  });
});

describe('bounds', () => {
  it('keeps at most N ended cards, the ones that ended last', () => {
    const entries = Array.from({ length: 5 }, (_, i) => {
      const entry = newEntry(fakeExecution(`id-${i}`, { lastSeq: 0 }), 0);
      applyEvent(entry, event(1, { executionId: `id-${i}`, type: 'STATUS', status: 'SUCCEEDED', at: new Date(1_000 * i).toISOString() }));
      settleEnd(entry);
      return entry;
    });
    capEndedCards(entries, 2);
    expect(entries.map((entry) => entry.endedLive)).toEqual([false, false, false, true, true]);
  });

  it('forgets finished entries nothing shows, least recently refreshed first, never an active one', () => {
    const map = new Map<string, ReturnType<typeof newEntry>>();
    for (let i = 0; i < 6; i++) {
      const status = i === 0 ? 'RUNNING' : 'SUCCEEDED';
      map.set(`id-${i}`, newEntry(fakeExecution(`id-${i}`, { status }), i));
    }
    expect(evictable(map, 10, () => false)).toEqual([]);
    expect(evictable(map, 3, (id) => id === 'id-1')).toEqual(['id-2', 'id-3', 'id-4']);
  });
});

describe('pause and resume as the client shows them', () => {
  it('shows Paused at once while a Pause is in flight, Queued while a Resume is, and the server once it answers', () => {
    const entry = newEntry(fakeExecution(ID, { lastSeq: 3, status: 'RUNNING' }), 0);
    expect(canPause(entry)).toBe(true);
    entry.control = 'pausing';
    expect(displayStatus(entry)).toBe('PAUSED');
    expect(canPause(entry)).toBe(false);
    entry.control = null;
    applySnapshot(entry, fakeExecution(ID, { lastSeq: 4, status: 'PAUSED' }), 0);
    expect([displayStatus(entry), canResume(entry)]).toEqual(['PAUSED', true]);
    entry.control = 'resuming';
    expect([displayStatus(entry), canResume(entry)]).toEqual(['QUEUED', false]);
    // A rollback: the request failed, the entry shows what the server last said.
    entry.control = null;
    expect(displayStatus(entry)).toBe('PAUSED');
  });

  it('offers no Pause for a chat answer (it cannot resume), and none once ended', () => {
    expect(canPause(newEntry(fakeExecution(ID, { kind: 'CHAT', status: 'RUNNING' }), 0))).toBe(false);
    const ended = newEntry(fakeExecution(ID, { status: 'SUCCEEDED' }), 0);
    ended.control = 'pausing';
    expect([displayStatus(ended), canPause(ended), canResume(ended)]).toEqual(['SUCCEEDED', false, false]);
  });
});
