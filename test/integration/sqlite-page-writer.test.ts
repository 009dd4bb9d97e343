// Page writes on the SQLite store's writer thread (a second connection): the main connection's
// transactions take turns with it. A cancel made while the thread is held inside one group's
// transaction (the write lock taken) and the next group is queued behind it waits its turn without
// blocking the main thread (no SQLite busy wait) and runs between the two: the first lands (it was
// handed over before the cancel), the second is refused whole, nothing of it written after the cancel.
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { FencedError } from '../../server/executions/types.ts';
import { SqliteStore } from '../../server/store/sqlite/sqlite-store.ts';
import type { StoreWrite } from '../../server/store/store.ts';
import { deferCleanup } from '../helpers/cleanup.ts';
import { tempDir } from '../helpers/stores.ts';

const SOURCE = 'http://writer.example';

const pageWrite = (path: string): StoreWrite => ({
  event: { type: 'PAGE', message: path },
  page: { sourceUrl: SOURCE, url: `${SOURCE}${path}`, title: path, contentHash: path, markdown: `text of ${path}`, chunks: [{ heading: path, text: `text of ${path}` }] },
  whenStored: { chunksAdded: 1, countIn: '#stored' },
  checkpoint: { [path]: { s: 'done' } },
});

// Atomics.waitAsync (Node 16+) is missing from this project's TypeScript lib
const waitAsync = (Atomics as unknown as { waitAsync(a: Int32Array, i: number, v: number, ms: number): { value: Promise<string> | string } }).waitAsync;

/** The thread's hold (see PageWriter): entered() resolves once it is inside a transaction, release() lets it go on. */
function threadHold() {
  const buffer = new SharedArrayBuffer(4);
  const flag = new Int32Array(buffer);
  return {
    buffer,
    entered: async () => {
      while (Atomics.load(flag, 0) !== 1) await waitAsync(flag, 0, 0, 1000).value;
    },
    release: () => {
      Atomics.store(flag, 0, 0);
      Atomics.notify(flag, 0);
    },
  };
}

async function claimedStore(hold?: SharedArrayBuffer) {
  const dir = tempDir('sluice-writer-');
  const store = new SqliteStore(join(dir.path, 'sluice.db'), { pageWriterThread: true, pageWriterHold: hold });
  deferCleanup(async () => {
    await store.close();
    dir.remove();
  });
  const { execution } = await store.createExecution({ kind: 'CRAWL', title: 't', sessionId: null, input: {}, createdBy: null });
  const [claimed] = await store.claim('node-a', 1, 60_000);
  return { store, id: execution.id, fence: { executionId: execution.id, attempt: claimed!.execution.attempt } };
}

describe('SQLite page writer thread', () => {
  it('started ahead (warm), it takes the first write once its connection is open, and closes cleanly with or without one', async () => {
    const dir = tempDir('sluice-writer-');
    deferCleanup(() => dir.remove());
    const idle = new SqliteStore(join(dir.path, 'idle.db'), { pageWriterThread: true });
    idle.warm();
    await idle.close();
    const { store, id, fence } = await claimedStore();
    store.warm();
    const { pagesStored } = await store.writeMany(fence, [pageWrite('/first')]);
    expect(pagesStored).toEqual([true]);
    expect((await store.getExecution(id))?.progress.chunksStored).toBe(1);
  });

  it('a cancel while the thread holds a group in its transaction: it waits its turn, the group lands, the next is refused whole', async () => {
    const hold = threadHold();
    const { store, id, fence } = await claimedStore(hold.buffer);
    const warm = store.writeMany(fence, [pageWrite('/warm')]);
    await hold.entered();
    hold.release();
    expect((await warm).pagesStored).toEqual([true]);

    const first = store.writeMany(fence, [pageWrite('/a'), pageWrite('/b')]);
    const second = store.writeMany(fence, [pageWrite('/c'), pageWrite('/d')]);
    await hold.entered(); // the thread is inside the first group's transaction, holding the write lock
    let cancelAnswered = false;
    const cancel = store.transition(id, 'requestCancel', { reason: 'test' }).finally(() => (cancelAnswered = true));
    // the main thread is not blocked meanwhile (a busy wait on SQLite's lock would hold it), and the cancel waits
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(cancelAnswered).toBe(false);
    hold.release();
    expect((await first).pagesStored).toEqual([true, true]);
    await expect(cancel).resolves.toMatchObject({ execution: { status: 'CANCELLING' } });
    await hold.entered(); // the second group, sent after the cancel
    hold.release();
    await expect(second).rejects.toBeInstanceOf(FencedError);

    const pages = await store.knowledge.listExecutionPages(id, 0, 100);
    expect(pages.map((p) => p.url)).toEqual(['/warm', '/a', '/b'].map((p) => `${SOURCE}${p}`));
    const checkpoint = await store.loadCheckpoint(id);
    expect(checkpoint.get('#stored')).toBe(3);
    expect(checkpoint.has('/c')).toBe(false);
    const row = await store.getExecution(id);
    expect(row!.progress.chunksStored).toBe(3);
    // the main connection reads what the thread wrote, and searches its index
    expect((await store.knowledge.search('text', 10, { perPage: 5 })).length).toBe(3);
  });

  it('the main connection writes while the thread is busy, and close waits for what was handed over', async () => {
    const { store, id, fence } = await claimedStore();
    const groups = Array.from({ length: 20 }, (_, g) => store.writeMany(fence, [0, 1, 2].map((i) => pageWrite(`/p${g}-${i}`))));
    // lease renewals and a chat session, made while groups are queued and one is being written
    const renewed = Promise.all(Array.from({ length: 5 }, () => store.renewLeases('node-a', [id], 60_000)));
    const session = store.chat.createSession('meanwhile');
    await expect(renewed).resolves.toHaveLength(5);
    await expect(session).resolves.toMatchObject({ title: 'meanwhile' });
    expect((await Promise.all(groups)).flatMap((g) => g.pagesStored)).toEqual(Array(60).fill(true));
    expect((await store.knowledge.listExecutionPages(id, 0, 100)).length).toBe(60);
  });
});
