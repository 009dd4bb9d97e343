import { describe, expect, it } from 'vitest';
import { Engine } from '../../server/engine/engine.ts';
import type { Execution } from '../../server/executions/types.ts';
import { crawlJob } from '../../server/jobs/crawl/crawl-job.ts';
import { DEFAULT_CRAWL_LIMITS, parseCrawlInput } from '../../server/jobs/crawl/input.ts';
import type { Store } from '../../server/store/store.ts';
import { storeForTest } from '../helpers/cleanup.ts';
import { engineForTest } from '../helpers/engine.ts';
import { pollUntil } from '../helpers/poll.ts';
import { heldRobotsSite } from '../helpers/held-robots-site.ts';
import { cutOff } from '../helpers/store-faults.ts';
import { storeFixtures } from '../helpers/stores.ts';

// No request reaches a site after its crawl has ended, even when neither the cancel nor the
// database reaches the node running it: that node stops its own code once its lease has gone
// unconfirmed for less than the grace period, before another node's sweep may end the row.

const GRACE_MS = 200;
const HEARTBEAT_MS = 100;
// A request is never given up for its own timeout here: only an abort ends the held one.
const LIMITS = { ...DEFAULT_CRAWL_LIMITS, requestTimeoutMs: 600_000 };

/** A node running the real crawl job on `store`, with its own pub/sub (no other node's doorbell reaches it). */
async function node(store: Store, nodeId: string, maxConcurrent: number): Promise<Engine> {
  const crawl = crawlJob({ allowPrivateNetworks: true, userAgent: 'SluiceBot/0.1' }, (attempt) => ({
    storePage: async (page, write, whenStored) => {
      const { pageStored } = await attempt.write(write, (fence, w) => store.write(fence, { ...w, page, whenStored }));
      return pageStored !== false;
    },
  }));
  const engine = await engineForTest({
    store,
    jobs: [crawl],
    nodeId,
    maxConcurrent,
    cancelGraceMs: GRACE_MS,
    // A lease far longer than the grace period: what ends the row here is the overdue-cancel sweep.
    leaseMs: 60_000,
    heartbeatMs: HEARTBEAT_MS,
    progressIntervalMs: 20,
  });
  return engine;
}

describe.each(storeFixtures)('a node that lost its database stops its crawl before anyone may end it ($name)', (fixture) => {
  it('no discovery request reaches the site after another node ended the crawl CANCELLED', async () => {
    const store = await storeForTest(fixture);
    const site = await heldRobotsSite();
    let aDown = false;
    // node-b only sweeps (it claims nothing); both start before the crawl, so neither start-up recovery takes it.
    const b = await node(store, 'node-b', 0);
    const a = await node(cutOff(store, () => aDown), 'node-a', 1);
    const execution = await a.submit({
      kind: 'CRAWL',
      title: 'held',
      sessionId: null,
      input: parseCrawlInput({ url: `${site.url}/`, maxPages: 5, maxDepth: 2 }, LIMITS),
      createdBy: null,
    });
    // node-a's crawl waits on robots.txt; then node-a loses its database, and the cancel goes to
    // node-b, whose doorbell never rings on node-a (as during a Redis outage).
    await site.robotsAsked;
    aDown = true;
    expect(await b.cancel(execution.id, 'user pressed Stop', null)).toMatchObject({ accepted: true, execution: { status: 'CANCELLING' } });
    const ended = await pollUntil(() => store.getExecution(execution.id), (row) => row?.status === 'CANCELLED');
    expect(ended?.status).toBe('CANCELLED');

    // Only now may robots.txt answer: code still running on node-a would go on to /llms.txt and /sitemap.xml.
    const before = site.requests.length;
    site.answerRobots();
    const stillRunning = await pollUntil(() => a.runningIds(), (ids) => !ids.includes(execution.id));
    expect(stillRunning).not.toContain(execution.id);
    expect(site.requests.slice(before)).toEqual([]);
    expect(site.requests).toEqual(['/robots.txt']);
    // The row stays as node-b ended it: node-a, cut off, wrote nothing after.
    aDown = false;
    const row = (await store.getExecution(execution.id)) as Execution;
    expect(row).toMatchObject({ status: 'CANCELLED', lastSeq: ended!.lastSeq });
  });

  it('a node that lost touch stops its code, and the crawl resumes from its checkpoint once the database is back', async () => {
    const store = await storeForTest(fixture);
    const site = await heldRobotsSite();
    let down = false;
    const a = await node(cutOff(store, () => down), 'node-a', 1);
    const execution = await a.submit({
      kind: 'CRAWL',
      title: 'held',
      sessionId: null,
      input: parseCrawlInput({ url: `${site.url}/`, maxPages: 3, maxDepth: 2 }, LIMITS),
      createdBy: null,
    });
    await site.robotsAsked;
    down = true;
    // Its code stops by itself, giving up the request robots.txt still holds: its lease went unconfirmed.
    await site.robotsAbandoned;
    site.answerRobots();
    down = false;
    const row = await pollUntil(() => store.getExecution(execution.id), (r) => r?.status === 'SUCCEEDED', 15_000);
    expect(row).toMatchObject({ status: 'SUCCEEDED' });
    expect(row!.attempt).toBeGreaterThan(1);
  });
});
