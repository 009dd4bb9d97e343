// Across nodes the fan-out is fed by one Redis subscription per execution per node, whatever the
// number of subscribers there (graphql-ws and SSE alike), and the channel is let go when the last
// subscriber of that node leaves. Counted on the real Redis with PUBSUB NUMSUB and PUBSUB CHANNELS.
import { Redis } from 'ioredis';
import { describe, expect, it } from 'vitest';
import { defineJob } from '../../server/engine/job.ts';
import { collect, JOB_PROGRESS, START_CRAWL, type EventPayload } from '../helpers/app.ts';
import { deferCleanup, siteForTest } from '../helpers/cleanup.ts';
import { createCluster, TEST_REDIS_URL } from '../helpers/cluster.ts';
import { sse } from '../helpers/sse.ts';

describe('Redis channels of the fan-out', () => {
  it('one subscription per execution per node with many subscribers, released when the last one leaves', async () => {
    const emit = new Map<string, () => void>();
    let finish!: () => void;
    const finished = new Promise<void>((resolve) => (finish = resolve));
    const job = defineJob({
      kind: 'CRAWL',
      resumable: false,
      run: async (_input, ctx) => {
        await ctx.logEvent('first');
        // The test rings for each further event, so it knows which event every subscriber waits for.
        for (let i = 0; ; i++) {
          const rung = await Promise.race([new Promise<boolean>((resolve) => emit.set(ctx.executionId, () => resolve(true))), finished.then(() => false)]);
          if (!rung) return;
          await ctx.logEvent(`ring ${i}`);
        }
      },
    });
    const cluster = await createCluster();
    deferCleanup(() => cluster.close());
    const redis = new Redis(TEST_REDIS_URL);
    deferCleanup(() => void redis.disconnect());
    const a = await cluster.node('node-a', { jobs: [job] });
    const b = await cluster.node('node-b', { jobs: [job] });
    const site = await siteForTest({ pages: 1 });
    const id = (await a.gql<{ startCrawl: { id: string } }>(START_CRAWL, { input: { url: site.url } })).data!.startCrawl.id;
    const channel = `${cluster.redisPrefix}execution:event:${id}`;
    const numsub = async () => Number(((await redis.pubsub('NUMSUB', channel)) as [string, number])[1]);
    const eventChannels = async () => ((await redis.pubsub('CHANNELS', `${cluster.redisPrefix}execution:event:*`)) as string[]).sort();
    /** Polls Redis (bounded) until the count is `n`: an UNSUBSCRIBE is sent when the last one leaves, not awaited. */
    const expectNumsub = async (n: number) => {
      for (let i = 0; i < 100 && (await numsub()) !== n; i++) await new Promise((resolve) => setTimeout(resolve, 20));
      expect(await numsub()).toBe(n);
    };
    const ring = async () => {
      for (let i = 0; i < 100 && !emit.has(id); i++) await new Promise((resolve) => setTimeout(resolve, 10));
      const wake = emit.get(id)!;
      emit.delete(id);
      wake();
    };

    // Node A: four graphql-ws subscribers (two sockets) and two over SSE; node B: three over graphql-ws.
    const wsA = [a.ws(), a.ws()];
    const onA = [0, 1, 2, 3].map((i) => collect<EventPayload>(wsA[i % 2]!, JOB_PROGRESS, { id }, 'jobProgress'));
    const sseA = [0, 1].map(() => sse<EventPayload>(a.url, JOB_PROGRESS, { id }, 'jobProgress'));
    const onB = [0, 1, 2].map(() => collect<EventPayload>(b.ws(), JOB_PROGRESS, { id }, 'jobProgress'));
    const everyone = [...onA, ...onB];
    await Promise.all(everyone.map((c) => c.until((e) => e.message === 'first')));
    await Promise.all(sseA.map((s) => s.until(() => s.items.some((e) => e.message === 'first'))));
    await expectNumsub(2);
    expect(await eventChannels()).toEqual([channel]);

    // A live event reaches everyone through those two subscriptions.
    await ring();
    await Promise.all(everyone.map((c) => c.until((e) => e.message === 'ring 0')));
    await Promise.all(sseA.map((s) => s.until(() => s.items.some((e) => e.message === 'ring 0'))));
    expect(await numsub()).toBe(2);

    // All but one of A's leave: A keeps its one subscription, and its last subscriber still hears.
    onA.forEach((c) => c.close());
    sseA[0]!.close();
    await ring();
    await sseA[1]!.until(() => sseA[1]!.items.some((e) => e.message === 'ring 1'));
    expect(await numsub()).toBe(2);

    // A's last one leaves: only B's subscription is left; then B's leave too: none.
    sseA[1]!.close();
    await expectNumsub(1);
    await ring();
    await Promise.all(onB.map((c) => c.until((e) => e.message === 'ring 2')));
    onB.forEach((c) => c.close());
    await expectNumsub(0);
    expect(await eventChannels()).toEqual([]);
    finish();
  });
});
