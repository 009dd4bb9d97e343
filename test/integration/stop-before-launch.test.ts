// A pause or a cancel that commits while a node's claim of the execution is on its way back: the
// doorbell rings before that node runs the code, and used to find nothing to stop. The code then ran
// until a heartbeat re-read the row or a write was refused, and a paused crawl's site got its
// robots.txt, llms.txt and sitemap.xml requests after PAUSED (PostgreSQL fault schedules, seq 3).
// A store wrapper makes the stop land exactly there: after the claim committed, before the engine hears of it.
import { describe, expect, it } from 'vitest';
import { Engine } from '../../server/engine/engine.ts';
import type { Change } from '../../server/executions/types.ts';
import { parseCrawlInput, DEFAULT_CRAWL_LIMITS } from '../../server/jobs/crawl/input.ts';
import { inlinePages } from '../../server/jobs/crawl/page-pool.ts';
import { defaultJobs } from '../../server/jobs/default-jobs.ts';
import type { Store } from '../../server/store/store.ts';
import { siteForTest, storeForTest } from '../helpers/cleanup.ts';
import { engineForTest } from '../helpers/engine.ts';
import { pollUntil } from '../helpers/poll.ts';
import { storeFixtures } from '../helpers/stores.ts';

/** `store` whose claims run `between(id)` for each execution claimed, after the claim committed and before the engine gets its answer. */
function stopBetweenClaimAndLaunch(store: Store, between: (id: string) => Promise<void>): Store {
  return new Proxy(store, {
    get(target, key, receiver) {
      if (key !== 'claim') return Reflect.get(target, key, receiver);
      return async (...args: Parameters<Store['claim']>): Promise<Change[]> => {
        const claimed = await target.claim(...args);
        for (const change of claimed) await between(change.execution.id);
        return claimed;
      };
    },
  });
}

describe.each(storeFixtures)('a stop that lands between a claim and its launch ($name)', (fixture) => {
  for (const stop of ['pause', 'cancel'] as const) {
    it(`a ${stop}: the claimed code stops before its first request`, async () => {
      const base = await storeForTest(fixture);
      const site = await siteForTest({ pages: 3 });
      const node: { engine: Engine | null } = { engine: null };
      const store = stopBetweenClaimAndLaunch(base, async (id) => {
        if (stop === 'pause') await node.engine!.pause(id, 'at once');
        else await node.engine!.cancel(id, 'at once', null);
      });
      const engine = await engineForTest({
        store,
        jobs: defaultJobs(store, { allowPrivateNetworks: true, pages: inlinePages() }),
        nodeId: 'node-a',
        maxConcurrent: 1,
        cancelGraceMs: 5000,
        // no heartbeat re-read and no lease renewal within the test: only the doorbell can stop the code
        leaseMs: 120_000,
        heartbeatMs: 60_000,
        progressIntervalMs: 20,
      });
      node.engine = engine;

      const { id } = await engine.submit({
        kind: 'CRAWL',
        title: 'stopped at once',
        sessionId: null,
        input: parseCrawlInput({ url: site.url, maxPages: 3, maxDepth: 2 }, DEFAULT_CRAWL_LIMITS),
        createdBy: null,
      });
      const ended = stop === 'pause' ? 'PAUSED' : 'CANCELLED';
      const row = await pollUntil(() => base.getExecution(id), (r) => r?.status === ended);
      expect(row?.status).toBe(ended);
      // the claimed code ran and returned (the attempt's slot is free again)...
      await pollUntil(() => engine.runningIds(), (ids) => !ids.includes(id));
      expect(engine.runningIds()).not.toContain(id);
      // ...without sending the site anything
      expect(site.requests).toEqual([]);
    });
  }
});
