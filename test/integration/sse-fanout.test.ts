// Subscriptions over HTTP (SSE) share the fan-out groups of graphql-ws: with several SSE subscribers
// and a graphql-ws one on the same execution, each event is resolved and serialised once (counted by
// sluice_subscription_renders_total on /metrics), and every subscriber still gets its replay from its
// own afterSeq then the live events, with no gap and no duplicate, and a complete at the end.
import { describe, expect, it } from 'vitest';
import { defineJob } from '../../server/engine/job.ts';
import { appForTest, collect, JOB_PROGRESS, START_CRAWL, type EventPayload, type TestApp } from '../helpers/app.ts';
import { siteForTest } from '../helpers/cleanup.ts';
import { sse as sseAt } from '../helpers/sse.ts';

const sse = (t: TestApp, variables: Record<string, unknown>) => sseAt<EventPayload>(t.url, JOB_PROGRESS, variables, 'jobProgress');

/** A deferred the test opens by hand. */
function gate(): { promise: Promise<void>; open(): void } {
  let open!: () => void;
  const promise = new Promise<void>((resolve) => (open = resolve));
  return { promise, open };
}

async function renders(t: TestApp): Promise<number> {
  const text = await (await fetch(`${t.url}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith('sluice_subscription_renders_total{field="jobProgress"}'));
  return line ? Number(line.split(' ')[1]) : 0;
}

const seqs = (items: EventPayload[]) => items.map((e) => e.seq);
const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => from + i);

describe('SSE subscriptions in the fan-out groups', () => {
  it('resolves each event once for N SSE subscribers and a graphql-ws one; each gets its replay then the live events, then complete', async () => {
    const reached = gate();
    const go = gate();
    const midway = gate();
    const rest = gate();
    const job = defineJob({
      kind: 'CRAWL',
      resumable: false,
      run: async (_input, ctx) => {
        for (let i = 0; i < 3; i++) await ctx.logEvent(`before ${i}`);
        reached.open();
        await go.promise;
        for (let i = 0; i < 2; i++) await ctx.logEvent(`live ${i}`);
        midway.open();
        await rest.promise;
        for (let i = 2; i < 5; i++) await ctx.logEvent(`live ${i}`);
      },
    });
    const site = await siteForTest({ pages: 1 });
    const t = await appForTest({ jobs: [job] });
    const started = await t.gql<{ startCrawl: { id: string } }>(START_CRAWL, { input: { url: site.url } });
    const id = started.data!.startCrawl.id;
    await reached.promise;
    const lastSeqNow = async () => (await t.gql<{ execution: { lastSeq: number } }>('query ($id: ID!) { execution(id: $id) { lastSeq } }', { id })).data!.execution.lastSeq;
    const lastSeq = await lastSeqNow();

    // Replay from different cursors: all of them, from 1, from the live edge, no cursor, from 2.
    const after = [0, 1, lastSeq, null, 2];
    const subscribers = after.map((a) => sse(t, a === null ? { id } : { id, after: a }));
    await Promise.all(subscribers.map((s, i) => s.until(() => s.items.length >= lastSeq - (after[i] ?? 0))));
    const before = await renders(t);

    // SSE subscribers only: each live event is rendered once for the five of them.
    go.open();
    await midway.promise;
    const mid = await lastSeqNow();
    await Promise.all(subscribers.map((s) => s.until(() => s.items.at(-1)?.seq === mid)));
    expect((await renders(t)) - before).toBe(mid - lastSeq);

    // A graphql-ws subscriber of the same operation joins the same group: still once per event.
    const overWs = collect<EventPayload>(t.ws(), JOB_PROGRESS, { id }, 'jobProgress');
    await overWs.until((e) => e.seq === mid);
    const beforeRest = await renders(t);
    rest.open();
    await Promise.all(subscribers.map((s) => s.until(() => s.completed)));
    await overWs.done;
    const finalSeq = overWs.items.at(-1)!.seq;
    expect(overWs.items.at(-1)!.status).toBe('SUCCEEDED');
    expect((await renders(t)) - beforeRest).toBe(finalSeq - mid);

    subscribers.forEach((s, i) => expect(seqs(s.items)).toEqual(range((after[i] ?? 0) + 1, finalSeq)));
    expect(seqs(overWs.items)).toEqual(range(1, finalSeq));
    await Promise.all(subscribers.map((s) => s.done));
  });

  it('an SSE subscriber that leaves is released (the live gauge goes down), and errors still answer over SSE', async () => {
    const go = gate();
    const job = defineJob({
      kind: 'CRAWL',
      resumable: false,
      run: async (_input, ctx) => {
        await ctx.logEvent('one');
        await go.promise;
      },
    });
    const site = await siteForTest({ pages: 1 });
    const t = await appForTest({ jobs: [job] });
    const id = (await t.gql<{ startCrawl: { id: string } }>(START_CRAWL, { input: { url: site.url } })).data!.startCrawl.id;
    const live = async () => {
      const text = await (await fetch(`${t.url}/metrics`)).text();
      return Number(text.split('\n').find((l) => l.startsWith('sluice_subscriptions_live{field="jobProgress"}'))?.split(' ')[1] ?? 0);
    };
    const s = sse(t, { id });
    await s.until(() => s.items.some((e) => e.message === 'one'));
    expect(await live()).toBe(1);
    s.close();
    for (let i = 0; i < 100 && (await live()) !== 0; i++) await new Promise((resolve) => setTimeout(resolve, 20));
    expect(await live()).toBe(0);

    const unknown = await fetch(`${t.url}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'text/event-stream' },
      body: JSON.stringify({ query: JOB_PROGRESS, variables: { id: 'no-such-id' } }),
    });
    expect(await unknown.text()).toMatch(/"code":"NOT_FOUND"/);
    go.open();
  });
});
