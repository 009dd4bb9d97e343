// A node's heartbeat under a slow database: the lease renewal is never held up by the sweep, beats
// do not pile up, and a sweep does not wait in line for a row another transaction holds. Under load
// (the PostgreSQL fault schedules, 2-3 nodes at load 13), overlapping beats of every node queued for
// one orphan's row lock, each holding a pooled connection, until a node's whole pool was in that
// line: its leases ran out unrecovered and cancels took seconds to be recorded.
import pg from 'pg';
import { describe, expect, it } from 'vitest';
import { Engine } from '../../server/engine/engine.ts';
import { defineJob } from '../../server/engine/job.ts';
import type { Execution } from '../../server/executions/types.ts';
import type { Store } from '../../server/store/store.ts';
import { deferCleanup, storeForTest } from '../helpers/cleanup.ts';
import { engineForTest } from '../helpers/engine.ts';
import { pollUntil } from '../helpers/poll.ts';
import { postgresFixture, storeFixtures, TEST_POSTGRES_URL } from '../helpers/stores.ts';

const HEARTBEAT_MS = 50;

/** A job that runs until its signal fires. */
const untilAborted = defineJob({
  kind: 'CRAWL',
  resumable: true,
  run: (_input, ctx) => new Promise((_resolve, reject) => ctx.signal.addEventListener('abort', () => reject(ctx.signal.reason), { once: true })),
});

async function node(store: Store, nodeId: string, options: { maxConcurrent: number; cancelGraceMs?: number }): Promise<Engine> {
  const engine = await engineForTest({
    store,
    jobs: [untilAborted],
    nodeId,
    maxConcurrent: options.maxConcurrent,
    cancelGraceMs: options.cancelGraceMs ?? 60_000,
    leaseMs: 60_000,
    heartbeatMs: HEARTBEAT_MS,
    progressIntervalMs: 20,
  });
  return engine;
}

const submit = (store: Store) => store.createExecution({ kind: 'CRAWL', title: 't', sessionId: null, input: {}, createdBy: null });

describe.each(storeFixtures)('heartbeats on a slow database ($name)', (fixture) => {
  it('a sweep held up does not hold up the lease renewals, and no second sweep starts beside it', async () => {
    const base = await storeForTest(fixture);
    let held: (() => void) | null = null;
    let sweepsInFlight = 0;
    let mostSweeps = 0;
    let renewals = 0;
    // From `hold` on, the next orphan listing (the sweep's first store call) waits until released.
    let hold = false;
    const store = new Proxy(base, {
      get(target, key, receiver) {
        if (key === 'renewLeases') {
          return async (...args: Parameters<Store['renewLeases']>) => {
            const rows = await target.renewLeases(...args);
            renewals++;
            return rows;
          };
        }
        if (key !== 'listOrphans') return Reflect.get(target, key, receiver);
        return async (all: boolean) => {
          sweepsInFlight++;
          mostSweeps = Math.max(mostSweeps, sweepsInFlight);
          try {
            if (hold) {
              hold = false;
              await new Promise<void>((resolve) => (held = resolve));
            }
            return await target.listOrphans(all);
          } finally {
            sweepsInFlight--;
          }
        };
      },
    });
    const engine = await node(store, 'node-a', { maxConcurrent: 1 });
    const { execution } = await submit(store);
    await pollUntil(() => engine.runningIds(), (ids) => ids.includes(execution.id));

    hold = true;
    await pollUntil(() => held, (h) => h !== null);
    // While the sweep waits, the lease goes on being renewed, beat after beat.
    const before = renewals;
    const after = await pollUntil(() => renewals, (n) => n >= before + 5);
    expect(after).toBeGreaterThanOrEqual(before + 5);
    expect(mostSweeps).toBe(1);
    held!();
    await pollUntil(() => renewals, (n) => n >= after + 2);
    expect(mostSweeps).toBe(1);
    expect((await base.getExecution(execution.id))?.status).toBe('RUNNING');
  });
});

describe.each([postgresFixture])('sweeps and row locks ($name)', (fixture) => {
  it('a sweep skips a row another transaction holds, and ends the others', { timeout: 30_000 }, async () => {
    const store = await storeForTest(fixture);
    // Two RUNNING rows of a dead node (leases run out) and two CANCELLING rows whose node lives on
    // (a long lease) but whose code never stopped (the grace period has passed).
    const dead = [(await submit(store)).execution, (await submit(store)).execution];
    await store.claim('dead-node', 2, 1);
    const stuck = [(await submit(store)).execution, (await submit(store)).execution];
    await store.claim('stuck-node', 2, 60_000);
    for (const e of stuck) await store.transition(e.id, 'requestCancel', { reason: 'stop' });
    await new Promise((resolve) => setTimeout(resolve, 20));

    // The first of each pair is locked by another transaction (a slow write of some node, say).
    const url = (store as unknown as { pool: pg.Pool }).pool.options.connectionString ?? TEST_POSTGRES_URL;
    const locker = new pg.Client({ connectionString: url });
    await locker.connect();
    deferCleanup(() => locker.end());
    await locker.query('BEGIN');
    await locker.query('SELECT id FROM executions WHERE id = ANY($1) FOR UPDATE', [[dead[0]!.id, stuck[0]!.id]]);

    // A node that runs nothing sweeps (cancel grace 10 ms: the CANCELLING rows are overdue).
    await node(store, 'sweeper', { maxConcurrent: 0, cancelGraceMs: 10 });
    const statuses = () => Promise.all([...dead, ...stuck].map((e) => store.getExecution(e.id).then((r) => (r as Execution).status)));
    const swept = await pollUntil(statuses, (s) => s[1] === 'QUEUED' && s[3] === 'CANCELLED');
    expect(swept).toEqual(['RUNNING', 'QUEUED', 'CANCELLING', 'CANCELLED']);

    await locker.query('COMMIT');
    expect(await pollUntil(statuses, (s) => s[0] === 'QUEUED' && s[2] === 'CANCELLED')).toEqual(['QUEUED', 'QUEUED', 'CANCELLED', 'CANCELLED']);
  });
});
