import { beforeEach, describe, expect, it } from 'vitest';
import { latestChanges, replayThenLive } from '../../server/engine/event-stream.ts';
import type { ExecutionEvent, Change } from '../../server/executions/types.ts';
import { createSluicePubSub, type SluicePubSub } from '../../server/pubsub.ts';
import type { Store } from '../../server/store/store.ts';
import { storeForTest } from '../helpers/cleanup.ts';
import { postgresFixture, sqliteFixture } from '../helpers/stores.ts';

let store: Store;
let pubsub: SluicePubSub;
beforeEach(async () => {
  store = await storeForTest(sqliteFixture);
  pubsub = createSluicePubSub();
});

const publish = (change: Change | null): void => {
  for (const event of change?.events ?? []) pubsub.publish('execution:event', event.executionId, event);
};

async function runningExecution(): Promise<{ id: string; attempt: number }> {
  const created = await store.createExecution({ kind: 'CRAWL', title: 't', sessionId: null, input: {}, createdBy: null });
  publish(created);
  const [claimed] = await store.claim('n', 1, 60_000);
  publish(claimed!);
  return { id: created.execution.id, attempt: claimed!.execution.attempt };
}

async function writeLogs(fence: { executionId: string; attempt: number }, count: number): Promise<void> {
  for (let i = 0; i < count; i++) publish((await store.write(fence, { event: { type: 'LOG', message: `line ${i}` } })).change);
}

describe('replayThenLive', () => {
  it('a subscriber that falls far behind the live stream reads the rest from the log: nothing lost, nothing twice', async () => {
    const { id, attempt } = await runningExecution();
    const stream = replayThenLive(store, pubsub, id, 0);
    const first = await stream.next(); // live listener in place, replay under way
    expect(first.value).toMatchObject({ seq: 1, status: 'QUEUED' });
    // 2,500 live events while the subscriber reads nothing (more than the live buffer holds).
    await writeLogs({ executionId: id, attempt }, 2500);
    publish(await store.transition(id, 'succeed', { attempt }));
    const seqs = [1];
    for await (const event of stream) seqs.push((event as ExecutionEvent).seq);
    expect(seqs).toEqual(Array.from({ length: 2503 }, (_, i) => i + 1));
  });

  it('replays a long history a page at a time and then continues live', async () => {
    const { id, attempt } = await runningExecution();
    await writeLogs({ executionId: id, attempt }, 1200);
    const stream = replayThenLive(store, pubsub, id, 100);
    const seqs: number[] = [];
    for (;;) {
      const next = await stream.next();
      seqs.push(next.value!.seq);
      if (next.value!.seq === 1202) break;
    }
    publish(await store.transition(id, 'requestCancel'));
    publish(await store.transition(id, 'finishCancel'));
    for await (const event of stream) seqs.push(event.seq);
    expect(seqs).toEqual(Array.from({ length: 1104 }, (_, i) => i + 101));
  });

  it('refills a gap from the log when a live message was lost', async () => {
    const { id, attempt } = await runningExecution();
    const stream = replayThenLive(store, pubsub, id, 0);
    await stream.next();
    await stream.next(); // seq 2, RUNNING
    await store.write({ executionId: id, attempt }, { event: { type: 'LOG', message: 'never published' } });
    publish((await store.write({ executionId: id, attempt }, { event: { type: 'LOG', message: 'published' } })).change);
    publish(await store.transition(id, 'succeed', { attempt }));
    const rest: (string | null)[] = [];
    for await (const event of stream) rest.push(event.message);
    expect(rest).toEqual(['never published', 'published', null]);
  });
});

describe('leaving a parked stream', () => {
  it.each([sqliteFixture, postgresFixture])('on $name: return() while it waits for an event ends it at once, with no further log reads', async (fixture) => {
    const ownStore = await storeForTest(fixture);
    const created = await ownStore.createExecution({ kind: 'CRAWL', title: 't', sessionId: null, input: {}, createdBy: null });
    const reads = { count: 0 };
    const counted = Object.create(ownStore) as Store;
    counted.listEvents = (...args) => (reads.count++, ownStore.listEvents(...args));
    let live = 0;
    const stream = replayThenLive(counted, pubsub, created.execution.id, 0, () => (live++, () => live--));
    expect((await stream.next()).value).toMatchObject({ seq: 1, status: 'QUEUED' });
    const parked = stream.next(); // no event will come: it waits (on PostgreSQL, re-reading the log every 2 s)
    expect(live).toBe(1);
    await stream.return(undefined); // resolves only once the stream's body has ended
    expect(live).toBe(0);
    expect(await parked).toEqual({ done: true, value: undefined });
    const readsAtLeave = reads.count;
    expect(await stream.next()).toEqual({ done: true, value: undefined });
    expect(reads.count).toBe(readsAtLeave);
  });

  it('latestChanges: return() while it waits releases it at once', async () => {
    let live = 0;
    const stream = latestChanges(pubsub, () => (live++, () => live--));
    const parked = stream.next();
    await Promise.resolve();
    expect(live).toBe(1);
    await stream.return(undefined);
    expect(live).toBe(0);
    expect(await parked).toEqual({ done: true, value: undefined });
  });
});

describe('latestChanges', () => {
  it('keeps the change with the highest lastSeq per execution: an older change arriving later never hides the final state', async () => {
    const stream = latestChanges(pubsub);
    const first = stream.next();
    pubsub.publish('execution:changed', { id: 'x', status: 'RUNNING', lastSeq: 2 } as never);
    expect((await first).value).toMatchObject({ status: 'RUNNING' });
    // Two nodes: node B's CANCELLED (seq 4) reaches this node before node A's CANCELLING (seq 3),
    // while the subscriber is busy.
    pubsub.publish('execution:changed', { id: 'x', status: 'CANCELLED', lastSeq: 4 } as never);
    pubsub.publish('execution:changed', { id: 'x', status: 'CANCELLING', lastSeq: 3 } as never);
    expect((await stream.next()).value).toMatchObject({ status: 'CANCELLED', lastSeq: 4 });
    // And once CANCELLED was sent, a late CANCELLING is not sent after it.
    pubsub.publish('execution:changed', { id: 'x', status: 'CANCELLING', lastSeq: 3 } as never);
    pubsub.publish('execution:changed', { id: 'y', status: 'QUEUED', lastSeq: 1 } as never);
    expect((await stream.next()).value).toMatchObject({ id: 'y' });
    await stream.return(undefined);
  });

  it('hands a slow subscriber the newest row per execution, never a backlog', async () => {
    const stream = latestChanges(pubsub);
    const ids = ['a', 'b', 'c'];
    const first = stream.next();
    pubsub.publish('execution:changed', { id: 'a', status: 'QUEUED', lastSeq: -1 } as never);
    expect((await first).value).toMatchObject({ id: 'a', status: 'QUEUED' });
    // 3,000 changes while the subscriber reads nothing: no error in the publisher, bounded memory.
    for (let i = 0; i < 3000; i++) pubsub.publish('execution:changed', { id: ids[i % 3], status: `S${i}`, lastSeq: i } as never);
    const seen = [];
    for (let i = 0; i < 3; i++) seen.push((await stream.next()).value);
    expect(seen).toEqual([
      { id: 'a', status: 'S2997', lastSeq: 2997 },
      { id: 'b', status: 'S2998', lastSeq: 2998 },
      { id: 'c', status: 'S2999', lastSeq: 2999 },
    ]);
    await stream.return(undefined);
  });
});
