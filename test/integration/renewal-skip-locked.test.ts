// A node renews the leases of all its executions in one statement. While another transaction held
// one of those rows locked (a write of that execution's code idle in transaction on a loaded
// machine, a cancel, a sweep's takeover), the renewal waited for it, every other execution of the
// node went unrenewed meanwhile, and the next beats skipped their renewal as that one was still in
// flight: CHAOS_DIAG showed a renewal blocked 653 ms behind one write, the node fencing its own
// code and a lease running out unrecovered (PostgreSQL seed 689). The row is locked here from
// another connection, on purpose, for as long as the test needs.
import { pino } from 'pino';
import pg from 'pg';
import { describe, expect, it } from 'vitest';
import { Engine } from '../../server/engine/engine.ts';
import { defineJob } from '../../server/engine/job.ts';
import { createSluicePubSub } from '../../server/pubsub.ts';
import type { PostgresStore } from '../../server/store/postgres/postgres-store.ts';
import { deferCleanup, storeForTest } from '../helpers/cleanup.ts';
import { postgresFixture } from '../helpers/stores.ts';

/** A row of `store` locked by a transaction of another connection until `release()`. */
async function lockRow(store: PostgresStore, id: string): Promise<{ release(): Promise<void> }> {
  const locker = new pg.Client({ connectionString: store.pool.options.connectionString });
  await locker.connect();
  deferCleanup(() => locker.end());
  await locker.query('BEGIN');
  await locker.query('SELECT id FROM executions WHERE id = $1 FOR UPDATE', [id]);
  return { release: async () => void (await locker.query('COMMIT')) };
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Code that runs until its signal fires. */
const untilStopped = defineJob({
  kind: 'CRAWL',
  resumable: true,
  run: (_input, ctx) => new Promise<null>((_resolve, reject) => ctx.signal.addEventListener('abort', () => reject(ctx.signal.reason), { once: true })),
});

/** Resolves within `ms` with true, or with false if `promise` has not settled by then. */
const answersWithin = (promise: Promise<unknown>, ms: number) =>
  Promise.race([promise.then(() => true), new Promise<boolean>((resolve) => setTimeout(() => resolve(false), ms))]);

describe('lease renewal with one of its rows locked by another transaction (postgres)', () => {
  it('renews the other rows at once and leaves the locked one out', { timeout: 30_000 }, async () => {
    const store = (await storeForTest(postgresFixture)) as PostgresStore;
    const create = () => store.createExecution({ kind: 'CRAWL', title: 't', sessionId: null, input: {}, createdBy: null });
    const a = (await create()).execution;
    const b = (await create()).execution;
    const claimed = await store.claim('node-a', 2, 1_000);
    expect(claimed.map((c) => c.execution.id).sort()).toEqual([a.id, b.id].sort());

    const lock = await lockRow(store, a.id);

    // 10 s: far beyond a round trip; without the fix the renewal waits for the lock, for ever here.
    const renewal = store.renewLeases('node-a', [a.id, b.id], 60_000, { skipLocked: true });
    renewal.catch(() => {});
    const answered = await answersWithin(renewal, 10_000);
    // Without skipLocked it waits for the lock, and renews both once it is gone.
    const waiting = store.renewLeases('node-a', [a.id, b.id], 60_000);
    waiting.catch(() => {});
    const waited = !(await answersWithin(waiting, 300));
    await lock.release();
    expect(answered).toBe(true);
    const rows = await renewal;
    expect(rows.map((r) => r.id)).toEqual([b.id]);
    expect(waited).toBe(true);
    expect((await waiting).map((r) => r.id).sort()).toEqual([a.id, b.id].sort());
    const leaseOf = async (id: string) => (await store.getExecution(id))!.leaseUntil!;
    expect(await leaseOf(b.id)).toBeGreaterThan(Date.now() + 30_000);
    await store.renewLeases('node-a', [a.id], 1);

    // The lock gone, both are renewed and answered as they are.
    expect(await leaseOf(a.id)).toBeLessThan(Date.now() + 30_000);
    const again = await store.renewLeases('node-a', [a.id, b.id], 60_000, { skipLocked: true });
    expect(again.map((r) => r.id).sort()).toEqual([a.id, b.id].sort());
    expect(await leaseOf(a.id)).toBeGreaterThan(Date.now() + 30_000);
    // A row no longer ours is answered as it is (the re-read that tells a node it lost the row).
    await store.transition(b.id, 'requestCancel', { reason: 'stop' });
    const other = await store.renewLeases('node-b', [a.id, b.id], 60_000);
    expect(other.map((r) => [r.id, r.status, r.node]).sort()).toEqual(
      [[a.id, 'RUNNING', 'node-a'], [b.id, 'CANCELLING', 'node-a']].sort(),
    );
  });

  it("one execution's row locked for longer than a lease does not keep its node from renewing the others' leases", { timeout: 30_000 }, async () => {
    const store = (await storeForTest(postgresFixture)) as PostgresStore;
    const fenced: string[] = [];
    const engine = new Engine({
      store,
      pubsub: createSluicePubSub(),
      jobs: [untilStopped],
      log: pino({ level: 'silent' }),
      nodeId: 'node-a',
      maxConcurrent: 2,
      // The code is stopped after 1.9 s without a confirmed renewal (see fenceAfterMs): far beyond a
      // beat's lateness on a loaded machine, within the 3 s the row is locked.
      cancelGraceMs: 2_000,
      leaseMs: 2_000,
      heartbeatMs: 200,
      progressIntervalMs: 20,
      observer: { onChange() {}, onCancelRequested() {}, onGraceExceeded() {}, onRecovered() {}, onSelfFenced: () => void fenced.push('') },
    });
    await engine.start();
    deferCleanup(() => engine.stop());
    const submit = () => engine.submit({ kind: 'CRAWL', title: 't', sessionId: null, input: {}, createdBy: null });
    const a = await submit();
    const b = await submit();
    for (let i = 0; i < 500 && engine.runningIds().length < 2; i++) await sleep(10);
    expect(engine.runningIds().sort()).toEqual([a.id, b.id].sort());

    // a's row locked for 3 s (longer than a lease): b's lease is renewed all along.
    const lock = await lockRow(store, a.id);
    const leaseBefore = (await store.getExecution(b.id))!.leaseUntil!;
    await sleep(3_000);
    const during = (await store.getExecution(b.id))!;
    await lock.release();
    expect(during).toMatchObject({ status: 'RUNNING', attempt: 1, node: 'node-a' });
    expect(during.leaseUntil!).toBeGreaterThan(leaseBefore + 2_000);
    // b's code runs on, not stopped by its node (a's was: its lease went unconfirmed while its row was locked).
    expect(engine.runningIds()).toContain(b.id);
    expect((await store.getExecution(b.id))!).toMatchObject({ status: 'RUNNING', attempt: 1 });
    expect(fenced.length).toBeGreaterThanOrEqual(1);
  });
});
