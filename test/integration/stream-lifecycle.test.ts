// Subscriptions over graphql-ws as a client sees them: released the moment their client leaves, and
// a cursor beyond the log answered at once; on both stores.
import { describe, expect, it } from 'vitest';
import type { Config } from '../../server/config.ts';
import { deferCleanup, siteForTest } from '../helpers/cleanup.ts';
import { collect, JOB_PROGRESS, START_CRAWL, startTestApp, type EventPayload, type TestApp } from '../helpers/app.ts';
import { appStores } from '../helpers/app-stores.ts';

const stores = appStores;

async function app(config: Partial<Config>): Promise<TestApp> {
  const started = await startTestApp(config);
  deferCleanup(() => started.stop());
  return started;
}

async function startCrawl(t: TestApp, url: string): Promise<string> {
  const res = await t.gql(START_CRAWL, { input: { url } });
  expect(res.errors).toBeUndefined();
  return res.data!.startCrawl.id as string;
}

/** Live subscriptions of one field, as /metrics reports them. */
async function liveSubscriptions(t: TestApp, field: string): Promise<number> {
  const text = await (await fetch(`${t.url}/metrics`)).text();
  const name = `sluice_subscriptions_live{field="${field}"} `;
  const line = text.split('\n').find((l) => l.startsWith(name));
  return line ? Number(line.slice(name.length)) : 0;
}

/**
 * Reads the gauge until it shows `expected`: the server releases a subscription when it handles the
 * socket's close, a moment after the client closed it, and only /metrics can see that moment. Each
 * read is a full HTTP round trip (no timer); a gauge that never gets there fails the test.
 */
async function gaugeReaches(t: TestApp, field: string, expected: number, reads = 500): Promise<void> {
  let value = NaN;
  for (let i = 0; i < reads; i++) {
    value = await liveSubscriptions(t, field);
    if (value === expected) return;
  }
  expect(value, `sluice_subscriptions_live{field="${field}"}`).toBe(expected);
}

const EXECUTION_CHANGED = 'subscription { executionChanged { id status lastSeq } }';

describe.each(stores)('subscriptions of departed clients ($name)', ({ config }) => {
  it('100 clients watching a QUEUED execution leave: every subscription is released at once, before any further event', async () => {
    const site = await siteForTest({ routes: { '/slow': { headers: { 'content-type': 'text/html' }, body: '<p>slow</p>', delayMs: 60_000 } } });
    const t = await app({ ...(await config()), maxConcurrent: 1 });
    await startCrawl(t, `${site.url}/slow`); // takes the only slot
    await site.waitFor(() => site.inFlight() > 0);
    const queued = await startCrawl(t, `${site.url}/slow?second`); // stays QUEUED: no event will come
    const clients = Array.from({ length: 100 }, () => t.ws());
    const watchers = clients.map((c) => collect<EventPayload>(c, JOB_PROGRESS, { id: queued }, 'jobProgress'));
    clients.forEach((c) => collect(c, EXECUTION_CHANGED, {}, 'executionChanged'));
    // Each has replayed the log (seq 1, QUEUED) and now waits for a live event.
    await Promise.all(watchers.map((w) => w.until((e) => e.seq === 1)));
    await gaugeReaches(t, 'jobProgress', 100);
    await gaugeReaches(t, 'executionChanged', 100);

    await Promise.all(clients.map((c) => c.dispose()));
    await gaugeReaches(t, 'jobProgress', 0);
    await gaugeReaches(t, 'executionChanged', 0);
    const row = await t.gql('query ($id: ID!) { execution(id: $id) { status lastSeq } }', { id: queued });
    expect(row.data!.execution).toEqual({ status: 'QUEUED', lastSeq: 1 }); // released with no event in between
  });
});

describe.each(stores)('jobProgress(afterSeq:) beyond the log ($name)', ({ config }) => {
  it('on a running execution: BAD_USER_INPUT at once, saying the last seq', async () => {
    const site = await siteForTest({ routes: { '/slow': { headers: { 'content-type': 'text/html' }, body: '<p>slow</p>', delayMs: 60_000 } } });
    const t = await app(await config());
    const id = await startCrawl(t, `${site.url}/slow`);
    await site.waitFor(() => site.inFlight() > 0);
    const { lastSeq } = (await t.gql('query ($id: ID!) { execution(id: $id) { lastSeq } }', { id })).data!.execution;
    const sub = collect<EventPayload>(t.ws(), JOB_PROGRESS, { id, after: lastSeq + 1000 }, 'jobProgress');
    const error = await sub.done.then(
      () => null,
      (e: { errors: { message: string; extensions: { code: string; lastSeq: number } }[] }) => e.errors[0]!,
    );
    expect(error?.extensions.code).toBe('BAD_USER_INPUT');
    // The crawl may have logged more since the read above; the error says where the log ends now.
    expect(error!.extensions.lastSeq).toBeGreaterThanOrEqual(lastSeq);
    expect(error!.message).toContain(`its last seq is ${error!.extensions.lastSeq}`);
    // At the edge itself (afterSeq = lastSeq) it is a valid cursor: it waits for the next event.
    const atEdge = collect<EventPayload>(t.ws(), JOB_PROGRESS, { id, after: lastSeq }, 'jobProgress');
    await t.gql('mutation ($id: ID!) { cancelExecution(id: $id) { accepted } }', { id });
    await atEdge.done;
    expect(atEdge.items[0]!.seq).toBe(lastSeq + 1);
    expect(atEdge.items.at(-1)).toMatchObject({ type: 'STATUS', status: 'CANCELLED' });
  });

  it('on an execution that has ended: completes at once with no event', async () => {
    const site = await siteForTest({ pages: 1 });
    const t = await app(await config());
    const id = await startCrawl(t, site.url);
    await collect<EventPayload>(t.ws(), JOB_PROGRESS, { id }, 'jobProgress').done;
    const { lastSeq } = (await t.gql('query ($id: ID!) { execution(id: $id) { lastSeq } }', { id })).data!.execution;
    const sub = collect<EventPayload>(t.ws(), JOB_PROGRESS, { id, after: lastSeq + 100 }, 'jobProgress');
    await sub.done;
    expect(sub.items).toEqual([]);
  });
});
