// A group of page writes takes many round trips; it must not hold the execution's row lock all that
// time, or the node's lease renewal and a cancel of the execution wait behind it (under load the
// renewal came so late that the node fenced its own code, and the lease then ran out). The page
// write is made to wait inside its transaction (another transaction holds its source's row), and the
// renewal and a cancel must be answered meanwhile; the held write is then refused (the row is
// CANCELLING), its page rolled back with it.
import pg from 'pg';
import { describe, expect, it } from 'vitest';
import { FencedError } from '../../server/executions/types.ts';
import type { PostgresStore } from '../../server/store/postgres/postgres-store.ts';
import type { StoreWrite } from '../../server/store/store.ts';
import { deferCleanup, storeForTest } from '../helpers/cleanup.ts';
import { postgresFixture } from '../helpers/stores.ts';

const SOURCE = 'http://held.example';

const pageWrite = (path: string, text: string): StoreWrite => ({
  event: { type: 'PAGE', message: path },
  page: { sourceUrl: SOURCE, url: `${SOURCE}${path}`, title: path, contentHash: text, markdown: text, chunks: [{ heading: null, text }] },
  whenStored: { chunksAdded: 1, countIn: '#stored' },
});

/** Resolves within `ms` with true, or with false if `promise` has not settled by then. */
const answersWithin = (promise: Promise<unknown>, ms: number) =>
  Promise.race([promise.then(() => true), new Promise<boolean>((resolve) => setTimeout(() => resolve(false), ms))]);

describe('a page write waiting inside its transaction (postgres)', () => {
  it('does not hold up the lease renewal or a cancel of its execution', { timeout: 30_000 }, async () => {
    const store = (await storeForTest(postgresFixture)) as PostgresStore;
    const { execution } = await store.createExecution({ kind: 'CRAWL', title: 't', sessionId: null, input: {}, createdBy: null });
    const [claimed] = await store.claim('node-a', 1, 60_000);
    const fence = { executionId: execution.id, attempt: claimed!.execution.attempt };
    await store.writeMany(fence, [pageWrite('/a', 'one')]);

    // Another transaction holds the source's row: the next page write waits inside its transaction.
    const locker = new pg.Client({ connectionString: store.pool.options.connectionString });
    await locker.connect();
    deferCleanup(() => locker.end());
    await locker.query('BEGIN');
    await locker.query('SELECT id FROM sources WHERE url = $1 FOR UPDATE', [SOURCE]);
    const held = store.writeMany(fence, [pageWrite('/b', 'two')]);
    held.catch(() => {});
    // until its statement waits on that lock
    for (;;) {
      const { rows } = await locker.query(
        `SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'`,
      );
      if (rows[0].n > 0) break;
      await new Promise((resolve) => setTimeout(resolve, 10));
    }

    // Meanwhile the node renews its lease, and a cancel is recorded (10 s: far beyond a round trip;
    // without the fix neither is ever answered while the page write waits).
    const renewal = store.renewLeases('node-a', [execution.id], 60_000);
    expect(await answersWithin(renewal, 10_000)).toBe(true);
    expect((await renewal)[0]).toMatchObject({ id: execution.id, status: 'RUNNING' });
    const cancel = store.transition(execution.id, 'requestCancel', { reason: 'stop' });
    expect(await answersWithin(cancel, 10_000)).toBe(true);
    expect((await cancel)?.execution.status).toBe('CANCELLING');

    // The held write goes on once the source is free, and is refused whole: the row has moved on.
    await locker.query('COMMIT');
    await expect(held).rejects.toBeInstanceOf(FencedError);
    const pages = await store.knowledge.listExecutionPages(execution.id, 0, 100);
    expect(pages.map((p) => p.url)).toEqual([`${SOURCE}/a`]);
    expect((await store.loadCheckpoint(execution.id)).get('#stored')).toBe(1);
  });
});
