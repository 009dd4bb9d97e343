// A node that fenced its own code (its lease went unconfirmed) stops renewing that lease once the
// code has ignored its signal for a grace period, so the row can be taken over when the lease runs
// out. On one SQLite node the only node that can take it is that same node, whose sweep skipped any
// row it still had code for: the row stayed RUNNING, its lease run out, for as long as the code hung
// (SQLite fault schedule seed 447). Now its own sweep takes it like a dead node's.
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { Engine } from '../../server/engine/engine.ts';
import { defineJob } from '../../server/engine/job.ts';
import { StoreUnavailableError, type Execution } from '../../server/executions/types.ts';
import { createSluicePubSub } from '../../server/pubsub.ts';
import type { Store } from '../../server/store/store.ts';
import { deferCleanup, storeForTest } from '../helpers/cleanup.ts';
import { storeFixtures } from '../helpers/stores.ts';

/** Code that ignores its signal: it returns only when the test lets it. */
let letGo: () => void = () => {};
const ignoresSignal = defineJob({
  kind: 'CRAWL',
  resumable: true,
  run: () => new Promise<void>((resolve) => (letGo = resolve)),
});

/** `store` with every call failing while `down()` is true. */
function cutOff(store: Store, down: () => boolean): Store {
  return new Proxy(store, {
    get(target, key, receiver) {
      const value = Reflect.get(target, key, receiver);
      if (typeof value !== 'function' || key === 'close' || key === 'migrate') return value;
      return (...args: unknown[]) => (down() ? Promise.reject(new StoreUnavailableError(new Error('cut off'))) : value.apply(target, args));
    },
  });
}

async function until<T>(read: () => Promise<T>, check: (value: T) => boolean, ms = 10_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await read();
    if (check(value) || Date.now() > deadline) return value;
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

describe.each(storeFixtures)('code a node fenced off that never returns ($name)', (fixture) => {
  it('its row is taken over by that same node once the lease runs out', async () => {
    const base = await storeForTest(fixture);
    let down = false;
    let fenced!: () => void;
    const selfFenced = new Promise<void>((resolve) => (fenced = resolve));
    const engine = new Engine({
      store: cutOff(base, () => down),
      pubsub: createSluicePubSub(),
      jobs: [ignoresSignal],
      log: pino({ level: 'silent' }),
      nodeId: 'solo',
      maxConcurrent: 1,
      cancelGraceMs: 200,
      leaseMs: 500,
      heartbeatMs: 100,
      progressIntervalMs: 20,
      observer: { onChange() {}, onCancelRequested() {}, onGraceExceeded() {}, onRecovered() {}, onSelfFenced: () => fenced() },
    });
    await engine.start();
    deferCleanup(async () => {
      letGo();
      await engine.stop();
    });
    const { id } = await engine.submit({ kind: 'CRAWL', title: 'hangs', sessionId: null, input: {}, createdBy: null });
    await until(async () => engine.runningIds(), (ids) => ids.includes(id));

    // Cut off until the node fences its code (which ignores the signal), then back.
    down = true;
    await selfFenced;
    down = false;

    // Its lease is renewed for a grace period more, then runs out; this node's sweep requeues the
    // row (attempt 2) and runs it again.
    const row = (await until(() => base.getExecution(id), (r) => (r?.attempt ?? 1) >= 2)) as Execution;
    expect(row.attempt).toBe(2);
    expect(['QUEUED', 'RUNNING']).toContain(row.status);
  });
});
