import { describe, expect, it, vi } from 'vitest';
import { Engine } from '../../server/engine/engine.ts';
import { defineJob } from '../../server/engine/job.ts';
import { StoreUnavailableError, type Execution } from '../../server/executions/types.ts';
import type { TransitionName } from '../../server/executions/status.ts';
import { createSluicePubSub, type SluicePubSub } from '../../server/pubsub.ts';
import type { Store } from '../../server/store/store.ts';
import { deferCleanup, storeForTest } from '../helpers/cleanup.ts';
import { engineForTest } from '../helpers/engine.ts';
import { cutOff } from '../helpers/store-faults.ts';
import { postgresFixture, sqliteFixture } from '../helpers/stores.ts';

// A Stop that was answered holds whatever fails at that moment: each test makes one fault happen on
// purpose (a store wrapper failing or pausing a given call) where it used to leave a row stuck.

const GRACE_MS = 150;
const HEARTBEAT_MS = 100;


/** A job whose code never stops by itself: it ignores its signal and writes progress until released. */
function deafJob(release: Promise<void>) {
  return defineJob({
    kind: 'CRAWL',
    resumable: true,
    run: async (_input, ctx) => {
      let stop = false;
      void release.then(() => (stop = true));
      for (let i = 0; !stop; i++) {
        // Fenced writes fail once the row moved on; deaf code carries on regardless.
        await ctx.commit({ event: { type: 'LOG', message: `tick ${i}` } }).catch(() => {});
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
      return null;
    },
  });
}

/** A job that ends at once. */
const quickJob = defineJob({ kind: 'CRAWL', resumable: true, run: async () => ({ ok: true }) });

/** `store` whose `transition` runs `hook` first; the hook may throw (a failed call) or wait. */
function beforeTransition(store: Store, hook: (id: string, names: readonly TransitionName[], options: object) => Promise<void> | void): Store {
  return new Proxy(store, {
    get(target, key, receiver) {
      if (key !== 'transition') return Reflect.get(target, key, receiver);
      return async (id: string, names: TransitionName | readonly TransitionName[], options: object = {}) => {
        await hook(id, typeof names === 'string' ? [names] : names, options);
        return target.transition(id, names, options);
      };
    },
  });
}

async function engineOn(store: Store, nodeId: string, job: ReturnType<typeof defineJob>, options: { pubsub?: SluicePubSub; leaseMs?: number; graceMs?: number; heartbeatMs?: number } = {}): Promise<Engine> {
  const engine = await engineForTest({
    store,
    pubsub: options.pubsub,
    jobs: [job],
    nodeId,
    maxConcurrent: 4,
    cancelGraceMs: options.graceMs ?? GRACE_MS,
    leaseMs: options.leaseMs ?? 1_000,
    heartbeatMs: options.heartbeatMs ?? HEARTBEAT_MS,
    progressIntervalMs: 20,
  });
  return engine;
}

/** Resolves with the row once `check` holds for it, or with the row as it is after `ms`. */
async function rowWhen(store: Store, id: string, check: (row: Execution) => boolean, ms = 5_000): Promise<Execution> {
  const deadline = Date.now() + ms;
  for (;;) {
    const row = (await store.getExecution(id))!;
    if (check(row) || Date.now() > deadline) return row;
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

const submit = (engine: Engine) => engine.submit({ kind: 'CRAWL', title: 't', sessionId: null, input: {}, createdBy: null });

/** Unhandled rejections while a test runs. */
function watchUnhandled(): unknown[] {
  const seen: unknown[] = [];
  const listener = (reason: unknown) => void seen.push(reason);
  process.on('unhandledRejection', listener);
  deferCleanup(async () => void process.off('unhandledRejection', listener));
  return seen;
}

describe.each([sqliteFixture, postgresFixture])('stop under faults ($name)', (fixture) => {
  it('a cancel that reaches code already marked lost by a fenced write still ends CANCELLED, and its lease is not renewed', async () => {
    const store = await storeForTest(fixture);
    let releaseCode!: () => void;
    const released = new Promise<void>((resolve) => (releaseCode = resolve));
    deferCleanup(async () => releaseCode());
    const engine = await engineOn(store, 'node-a', deafJob(released));
    const execution = await submit(engine);
    await rowWhen(store, execution.id, (r) => r.status === 'RUNNING' && r.lastSeq > 3);

    // The tombstone is written by another node whose doorbell never rings here: the code's next write
    // is fenced (this node marks it lost) before the heartbeat's re-read delivers the cancel.
    const cancelled = await store.transition(execution.id, 'requestCancel', { reason: 'stop from node b' });
    expect(cancelled?.execution.status).toBe('CANCELLING');

    const row = await rowWhen(store, execution.id, (r) => r.status === 'CANCELLED');
    expect(row.status).toBe('CANCELLED');
    expect(row.finishedAt! - cancelled!.execution.cancelRequestedAt!).toBeLessThan(5_000);
    expect(engine.runningIds()).not.toContain(execution.id);
  });

  it('the grace timer failing to record CANCELLED is no unhandled rejection, and the next heartbeat ends it', async () => {
    const unhandled = watchUnhandled();
    const store = await storeForTest(fixture);
    let failures = 0;
    const failing = beforeTransition(store, (_id, names, options) => {
      const fromGraceTimer = names.includes('finishCancel') && !('ifCancelRequestedMsAgo' in options) && !('ifLeaseExpired' in options);
      if (fromGraceTimer) {
        failures++;
        throw new StoreUnavailableError(new Error('connection reset'));
      }
    });
    let releaseCode!: () => void;
    const released = new Promise<void>((resolve) => (releaseCode = resolve));
    deferCleanup(async () => releaseCode());
    // The grace timer (50 ms) fires well before the heartbeat (400 ms) whose sweep ends the row.
    const engine = await engineOn(failing, 'node-a', deafJob(released), { graceMs: 50, heartbeatMs: 400 });
    const execution = await submit(engine);
    await rowWhen(store, execution.id, (r) => r.status === 'RUNNING');

    expect(await engine.cancel(execution.id, 'user pressed Stop', null)).toMatchObject({ accepted: true });
    const row = await rowWhen(store, execution.id, (r) => r.status === 'CANCELLED');

    expect(failures).toBeGreaterThanOrEqual(1);
    expect(row.status).toBe('CANCELLED');
    expect(unhandled).toEqual([]);
  });

  it('a job whose final write fails for a while does not stay RUNNING with no worker', async () => {
    const store = await storeForTest(fixture);
    let failures = 0;
    // More failures than the engine retries: the row is left RUNNING, its worker gone.
    const failing = beforeTransition(store, (_id, names) => {
      if (names.includes('succeed') && failures++ < 6) throw new StoreUnavailableError(new Error('connection reset'));
    });
    const engine = await engineOn(failing, 'solo', quickJob, { leaseMs: 500 });
    const execution = await submit(engine);

    const row = await rowWhen(store, execution.id, (r) => r.status === 'SUCCEEDED', 8_000);
    expect(failures).toBeGreaterThan(6);
    expect(row).toMatchObject({ status: 'SUCCEEDED' });
    expect(row.attempt).toBeGreaterThan(1);
  });
});

describe('stop under faults, two nodes (postgres)', () => {
  it('a survivor ends the CANCELLING row of a node cut off from the database within grace + one heartbeat, long before its lease runs out', async () => {
    const store = await storeForTest(postgresFixture);
    const pubsub = createSluicePubSub();
    let aDown = false;
    let releaseCode!: () => void;
    const released = new Promise<void>((resolve) => (releaseCode = resolve));
    deferCleanup(async () => releaseCode());
    const a = await engineOn(cutOff(store, () => aDown), 'node-a', deafJob(released), { pubsub, leaseMs: 60_000 });
    const execution = await submit(a);
    await rowWhen(store, execution.id, (r) => r.status === 'RUNNING');
    const b = await engineOn(store, 'node-b', deafJob(released), { pubsub, leaseMs: 60_000 });

    aDown = true;
    const outcome = await b.cancel(execution.id, 'user pressed Stop', null);
    expect(outcome).toMatchObject({ accepted: true, execution: { status: 'CANCELLING' } });

    const row = await rowWhen(store, execution.id, (r) => r.status === 'CANCELLED');
    expect(row.status).toBe('CANCELLED');
    // Its lease (60 s) is still running: the grace period, not the lease, bounded the stop.
    expect(row.finishedAt! - row.cancelRequestedAt!).toBeLessThan(10_000);
  });

  it('an orphan is not taken over when its node renewed the lease between the list and the takeover', async () => {
    const store = await storeForTest(postgresFixture);
    const pubsub = createSluicePubSub();
    let releaseCode!: () => void;
    const released = new Promise<void>((resolve) => (releaseCode = resolve));
    deferCleanup(async () => releaseCode());
    // node-a renews only when this test says so (its own beat could renew before node-b lists it).
    const a = await engineOn(store, 'node-a', deafJob(released), { pubsub, leaseMs: 60_000, heartbeatMs: 600_000 });
    const execution = await submit(a);
    const running = await rowWhen(store, execution.id, (r) => r.status === 'RUNNING');
    // Its lease runs out (as while node-a was paused) ...
    await store.renewLeases('node-a', [execution.id], 1);
    let raced = false;
    // ... node-b lists it as an orphan, and node-a renews just before node-b's takeover is decided.
    const racing = beforeTransition(store, async (id, names, options) => {
      if (id !== execution.id || !names.includes('requeue') || raced) return;
      raced = true;
      await store.renewLeases('node-a', [id], 60_000);
      expect(options).toMatchObject({ ifLeaseExpired: true });
    });
    await engineOn(racing, 'node-b', deafJob(released), { pubsub });

    await rowWhen(store, execution.id, () => raced);
    expect(raced).toBe(true);
    const row = (await store.getExecution(execution.id))!;
    expect(row).toMatchObject({ status: 'RUNNING', node: 'node-a', attempt: running.attempt });
    expect(a.runningIds()).toContain(execution.id);
  });

  it("lease times are the database's: a node whose clock is 10 minutes slow does not hand out a lease that has already run out", async () => {
    const store = await storeForTest(postgresFixture);
    await store.createExecution({ kind: 'CRAWL', title: 't', sessionId: null, input: {}, createdBy: null });
    const real = Date.now.bind(Date);
    const slow = vi.spyOn(Date, 'now').mockImplementation(() => real() - 600_000);
    deferCleanup(async () => slow.mockRestore());
    const [claimed] = await store.claim('slow-node', 1, 30_000);
    await store.renewLeases('slow-node', [claimed!.execution.id], 30_000);
    slow.mockRestore();

    expect(claimed!.execution.leaseUntil).toBeGreaterThan(real());
    expect(await store.listOrphans(false)).toEqual([]);
  });
});
