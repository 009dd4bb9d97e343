import { describe, expect, it } from 'vitest';
import { Engine } from '../../server/engine/engine.ts';
import { defineJob } from '../../server/engine/job.ts';
import type { TransitionName } from '../../server/executions/status.ts';
import type { Store } from '../../server/store/store.ts';
import { deferCleanup } from '../helpers/cleanup.ts';
import { engineForTest } from '../helpers/engine.ts';
import { postgresFixture, sqliteFixture } from '../helpers/stores.ts';

// Races between a cancel and whatever else moves the row, made to happen on purpose: a store wrapper
// runs the competing move at the exact moment the cancel is being decided.

/** A job that runs until its signal fires. */
const untilAborted = defineJob({
  kind: 'CRAWL',
  resumable: true,
  run: (_input, ctx) => new Promise((_resolve, reject) => ctx.signal.addEventListener('abort', () => reject(ctx.signal.reason), { once: true })),
});


/** `store` with a hook that runs before each transition whose names include `requestCancel`. */
function withHookBeforeCancel(store: Store, hook: (id: string) => Promise<void>): Store {
  return new Proxy(store, {
    get(target, key, receiver) {
      if (key !== 'transition') return Reflect.get(target, key, receiver);
      return async (id: string, names: TransitionName | readonly TransitionName[], options?: object) => {
        if ((typeof names === 'string' ? [names] : names).includes('requestCancel')) await hook(id);
        return target.transition(id, names, options);
      };
    },
  });
}

async function engineOn(store: Store, nodeId: string): Promise<Engine> {
  const engine = await engineForTest({
    store,
    jobs: [untilAborted],
    nodeId,
    maxConcurrent: 4,
    cancelGraceMs: 200,
    leaseMs: 60_000,
    heartbeatMs: 60_000,
    progressIntervalMs: 50,
  });
  return engine;
}

async function until(check: () => Promise<boolean>): Promise<void> {
  while (!(await check())) await new Promise((resolve) => setTimeout(resolve, 5));
}

describe.each([sqliteFixture, postgresFixture])('a cancel racing a release ($name)', (fixture) => {
  it('a release back to QUEUED while the cancel is decided: accepted means a tombstone, and it never runs again', async () => {
    const { store, dispose } = await fixture.open();
    deferCleanup(dispose);
    await store.migrate();
    // The competing move: the row is released back to QUEUED (as its node's graceful shutdown or a
    // database outage does) just as the cancel is decided.
    let armed = false;
    let released = false;
    const racing = withHookBeforeCancel(store, async (id) => {
      if (!armed || released) return;
      released = true;
      const row = await store.getExecution(id);
      expect(await store.transition(id, 'requeue', { attempt: row!.attempt, reason: 'its node shut down' })).not.toBeNull();
    });
    const engine = await engineOn(racing, 'node-a');
    const execution = await engine.submit({ kind: 'CRAWL', title: 't', sessionId: null, input: {}, createdBy: null });
    await until(async () => (await store.getExecution(execution.id))?.status === 'RUNNING');

    armed = true;
    const outcome = await engine.cancel(execution.id, 'user pressed Stop', null);

    expect(released).toBe(true);
    expect(outcome).toMatchObject({ accepted: true, execution: { status: 'CANCELLED' } });
    // Nothing is left to claim: no node can run it again.
    expect(await store.claim('third', 10, 60_000)).toEqual([]);
    const row = await store.getExecution(execution.id);
    expect(row).toMatchObject({ status: 'CANCELLED', cancelReason: 'user pressed Stop' });
    const events = await store.listEvents(execution.id, 0);
    expect(events.filter((e) => e.type === 'STATUS').map((e) => e.status)).toEqual(['QUEUED', 'RUNNING', 'QUEUED', 'CANCELLED']);
  });
});
