// While Redis is away, what is published is lost for the nodes whose subscribing connection is down
// (a publishing connection back first sends its queue to nobody). Each watched execution's feed
// used to learn of it only at its idle read, 2 s after the last event it heard: a terminal event lost
// so left every jobProgress subscriber of the node one event short until then. Once the node has
// re-subscribed, its feeds now read their logs at once. The test loses the message on purpose: the
// event is committed by another store handle (a node that died before publishing) while Redis is down.
import { describe, expect, it } from 'vitest';
import { defineJob } from '../../server/engine/job.ts';
import { PostgresStore } from '../../server/store/postgres/postgres-store.ts';
import { collect, JOB_PROGRESS, START_CRAWL, startTestApp, type EventPayload } from '../helpers/app.ts';
import { deferCleanup } from '../helpers/cleanup.ts';
import { startPrivateRedis } from '../helpers/cluster.ts';
import { freshDatabase } from '../helpers/stores.ts';

/** A crawl job that writes one LOG event, then waits until the test ends. */
const waitingJob = defineJob({
  kind: 'CRAWL',
  resumable: true,
  run: async (_input, ctx) => {
    await ctx.commit({ event: { type: 'LOG', message: 'waiting for the test' } });
    await new Promise((resolve) => ctx.signal.addEventListener('abort', resolve, { once: true }));
    throw ctx.signal.reason;
  },
});

describe('a Redis outage (PostgreSQL)', () => {
  it('an event committed unheard while Redis was down reaches the subscribers once the node has re-subscribed, not at the idle read', async () => {
    const db = await freshDatabase();
    deferCleanup(() => db.drop());
    const redis = await startPrivateRedis();
    deferCleanup(() => redis.kill());
    const t = await startTestApp({ databaseUrl: db.url, redisUrl: redis.url, redisPrefix: 'outage:', jobs: [waitingJob] });
    deferCleanup(() => t.stop());
    const other = new PostgresStore(db.url, { maxConnections: 1 });
    deferCleanup(() => other.close());

    const started = await t.gql(START_CRAWL, { input: { url: 'http://127.0.0.1:9/' } });
    const id = started.data!.startCrawl.id as string;
    const watcher = collect<EventPayload>(t.ws(), JOB_PROGRESS, { id }, 'jobProgress');
    await watcher.until((e) => e.type === 'LOG');
    // The feed's idle read comes 2 s after this, the last event it heard.
    const heardAt = performance.now();

    await redis.kill();
    const row = (await other.getExecution(id))!;
    // committed, never published
    await other.write({ executionId: id, attempt: row.attempt }, { event: { type: 'LOG', message: 'unheard' } });
    await redis.start();
    const unheard = await watcher.until((e) => e.message === 'unheard');
    const after = performance.now() - heardAt;

    expect(unheard.seq).toBe(4);
    expect(watcher.items.map((e) => e.seq)).toEqual([1, 2, 3, 4]);
    expect(after).toBeLessThan(1500);
  });
});
