// A subscriber whose TCP socket stops reading (a real socket, paused: the kernel buffers fill, then
// the server's) never holds up its group: the others get every event while it is stuck. Once it reads
// again it catches up from the log with no gap and no duplicate; if it stays stuck past streamStallMs
// its socket is closed with 1013 Try Again Later.
import { randomUUID } from 'node:crypto';
import type { Socket } from 'node:net';
import { describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { defineJob } from '../../server/engine/job.ts';
import { appForTest, JOB_PROGRESS, START_CRAWL, type TestApp } from '../helpers/app.ts';
import { siteForTest } from '../helpers/cleanup.ts';
import { sse } from '../helpers/sse.ts';

/** Events large enough that a few megabytes of kernel buffers fill within a few dozen of them. */
const EVENT_BYTES = 256 * 1024;
const EVENTS = 60;

/** A raw graphql-transport-ws client with one jobProgress subscription; `tcp` is its real socket. */
async function subscriber(url: string, id: string) {
  const socket = new WebSocket(`${url.replace('http', 'ws')}/graphql`, 'graphql-transport-ws', { perMessageDeflate: false });
  const seqs: number[] = [];
  let completed = false;
  let closeCode: number | null = null;
  const waiters: (() => void)[] = [];
  const notify = () => waiters.splice(0).forEach((w) => w());
  socket.on('message', (data) => {
    const message = JSON.parse(String(data)) as { type: string; payload?: { data?: { jobProgress: { seq: number } } } };
    if (message.type === 'next') seqs.push(message.payload!.data!.jobProgress.seq);
    if (message.type === 'complete') completed = true;
    notify();
  });
  socket.on('close', (code) => {
    closeCode = code;
    notify();
  });
  await new Promise<void>((resolve, reject) => {
    socket.once('error', reject);
    socket.once('open', () => socket.send(JSON.stringify({ type: 'connection_init', payload: {} })));
    socket.on('message', function ack(data) {
      if (JSON.parse(String(data)).type !== 'connection_ack') return;
      socket.off('message', ack);
      resolve();
    });
  });
  socket.send(JSON.stringify({ id: randomUUID(), type: 'subscribe', payload: { query: JOB_PROGRESS, variables: { id } } }));
  return {
    seqs,
    get completed() {
      return completed;
    },
    get closeCode() {
      return closeCode;
    },
    tcp: (socket as unknown as { _socket: Socket })._socket,
    until: (predicate: () => boolean) =>
      new Promise<void>((resolve) => {
        const check = () => (predicate() ? resolve() : waiters.push(check));
        check();
      }),
    close: () => socket.terminate(),
  };
}

async function metric(t: TestApp, line: string): Promise<number> {
  const text = await (await fetch(`${t.url}/metrics`)).text();
  return Number(text.split('\n').find((l) => l.startsWith(line))?.split(' ')[1] ?? 0);
}

/** Polls /metrics (bounded) until the counter reaches `n`. */
async function metricReaches(t: TestApp, line: string, n: number): Promise<void> {
  for (let i = 0; i < 500 && (await metric(t, line)) < n; i++) await new Promise((resolve) => setTimeout(resolve, 20));
  expect(await metric(t, line)).toBeGreaterThanOrEqual(n);
}

/** Polls (bounded) until exactly `n` subscribers are out of the live stream for being slow. */
async function laggingIs(t: TestApp, n: number): Promise<void> {
  for (let i = 0; i < 500 && t.app.subscriptionStats().lagging !== n; i++) await new Promise((resolve) => setTimeout(resolve, 20));
  expect(t.app.subscriptionStats().lagging).toBe(n);
}

const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => from + i);

async function setUp(config: { streamHighWaterBytes: number; streamStallMs: number }) {
  let go!: () => void;
  const started = new Promise<void>((resolve) => (go = resolve));
  let release!: () => void;
  const released = new Promise<void>((resolve) => (release = resolve));
  const big = 'x'.repeat(EVENT_BYTES);
  const job = defineJob({
    kind: 'CRAWL',
    resumable: false,
    run: async (_input, ctx) => {
      await ctx.logEvent('ready');
      await started;
      for (let i = 0; i < EVENTS; i++) await ctx.logEvent(`${i} ${big}`);
      // A live stream goes on (small events) until the test lets it end: a subscriber's congestion is
      // looked at when an event is delivered to it.
      let ended = false;
      void released.then(() => (ended = true));
      while (!ended) {
        await ctx.logEvent('tick');
        await new Promise((resolve) => setTimeout(resolve, 25));
      }
    },
  });
  const site = await siteForTest({ pages: 1 });
  const t = await appForTest({ jobs: [job], ...config });
  const id = (await t.gql<{ startCrawl: { id: string } }>(START_CRAWL, { input: { url: site.url } })).data!.startCrawl.id;
  const fast = await Promise.all([0, 1, 2].map(() => subscriber(t.url, id)));
  const slow = await subscriber(t.url, id);
  await Promise.all([...fast, slow].map((s) => s.until(() => s.seqs.length >= 2)));
  const readySeq = slow.seqs.at(-1)!;
  return { t, id, fast, slow, readySeq, go, release };
}

describe('a socket that stops reading', () => {
  it('does not hold up its group; once it reads again it catches up from the log with no gap or duplicate', async () => {
    const { t, fast, slow, readySeq, go, release } = await setUp({ streamHighWaterBytes: 256 * 1024, streamStallMs: 60_000 });
    slow.tcp.pause();
    go();
    const last = readySeq + EVENTS;
    await Promise.all(fast.map((s) => s.until(() => s.seqs.at(-1)! >= last)));
    // Every event reached the others while the slow one read nothing; the server took it (and only it,
    // once the others have drained) out of the live stream.
    await metricReaches(t, 'sluice_subscription_slow_total{outcome="lagged"}', 1);
    await laggingIs(t, 1);
    expect(slow.seqs.at(-1)).toBeLessThan(last);

    slow.tcp.resume();
    await slow.until(() => slow.seqs.at(-1)! >= last);
    release();
    await Promise.all([...fast, slow].map((s) => s.until(() => s.completed)));
    const final = fast[0]!.seqs.at(-1)!;
    for (const s of [...fast, slow]) expect(s.seqs).toEqual(range(1, final));
    expect(await metric(t, 'sluice_subscription_slow_total{outcome="closed"}')).toBe(0);
  });

  it('is closed with 1013 Try Again Later when it stays stuck past streamStallMs; the others are not', async () => {
    // A high-water mark of four events and a second to drain: readers that read are not cut off.
    const { t, fast, slow, readySeq, go, release } = await setUp({ streamHighWaterBytes: 1024 * 1024, streamStallMs: 1000 });
    slow.tcp.pause();
    go();
    const last = readySeq + EVENTS;
    await Promise.all(fast.map((s) => s.until(() => s.seqs.at(-1)! >= last || s.closeCode !== null)));
    for (const s of fast) expect(s.closeCode).toBeNull();
    await metricReaches(t, 'sluice_subscription_slow_total{outcome="closed"}', 1);
    // Reading again, it gets what was already in its buffers, then the close frame.
    slow.tcp.resume();
    await slow.until(() => slow.closeCode !== null);
    expect(slow.closeCode).toBe(1013);
    expect(slow.completed).toBe(false);
    release();
    await Promise.all(fast.map((s) => s.until(() => s.completed)));
    for (const s of fast) expect(s.seqs).toEqual(range(1, fast[0]!.seqs.at(-1)!));
    fast.forEach((s) => s.close());
  });

  it('over SSE too: a response that is not read leaves the live stream and catches up from the log once read again', async () => {
    const { t, id, fast, readySeq, go, release } = await setUp({ streamHighWaterBytes: 256 * 1024, streamStallMs: 60_000 });
    const slow = sse<{ seq: number }>(t.url, JOB_PROGRESS, { id }, 'jobProgress');
    await slow.until(() => slow.items.length >= readySeq);
    slow.pause();
    go();
    const last = readySeq + EVENTS;
    await Promise.all(fast.map((s) => s.until(() => s.seqs.at(-1)! >= last)));
    await laggingIs(t, 1);
    expect(slow.items.at(-1)!.seq).toBeLessThan(last);

    slow.resume();
    await slow.until(() => slow.items.at(-1)!.seq >= last);
    release();
    await slow.until(() => slow.completed);
    await Promise.all(fast.map((s) => s.until(() => s.completed)));
    expect(slow.items.map((e) => e.seq)).toEqual(range(1, fast[0]!.seqs.at(-1)!));
  });
});
