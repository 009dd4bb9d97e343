// The fan-out behind graphql-ws subscriptions: groups, the replay/live seam, slow sockets, access.
// Real store (SQLite, and PostgreSQL where it differs), real pub/sub and schema; the sockets are
// recording sinks whose send buffer a test can fill and drain at will, so congestion is made to
// happen on purpose rather than hoped for.
import { parse, type ExecutionArgs } from 'graphql';
import pino from 'pino';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { StoreUnavailableError, type Change } from '../../server/executions/types.ts';
import { createSluicePubSub, type SluicePubSub } from '../../server/pubsub.ts';
import { schema } from '../../server/schema/index.ts';
import type { Principal, Scope } from '../../server/security/tokens.ts';
import type { Store } from '../../server/store/store.ts';
import { Fanout, WS_TOO_SLOW, type FanoutField } from '../../server/streams/fanout.ts';
import { Group } from '../../server/streams/group.ts';
import type { Sink } from '../../server/streams/member.ts';
import { JOB_PROGRESS } from '../helpers/app.ts';
import { deferCleanup, storeForTest } from '../helpers/cleanup.ts';
import { postgresFixture, sqliteFixture } from '../helpers/stores.ts';

/** A socket that records frames; `bufferedAmount` is what a test says is waiting in it. */
class TestSink implements Sink {
  readonly frames: { id: string; type: string; payload: { data?: Record<string, any>; errors?: unknown[] } }[] = [];
  raw: string[] = [];
  bufferedAmount = 0;
  readyState = 1;
  closed: { code?: number; reason?: string } | null = null;
  private waiters: (() => void)[] = [];
  send(data: string): void {
    this.raw.push(data);
    this.frames.push(JSON.parse(data));
    this.notify();
  }
  close(code?: number, reason?: string): void {
    this.readyState = 3;
    this.closed = { code, reason };
    this.notify();
  }
  /** The seqs of the jobProgress events it was sent. */
  seqs(id = '1'): number[] {
    return this.frames.filter((f) => f.id === id).map((f) => f.payload.data!.jobProgress.seq as number);
  }
  /** Resolves once `predicate` holds, checked after every frame and close. */
  until(predicate: () => boolean): Promise<void> {
    return new Promise((resolve) => {
      const check = () => (predicate() ? resolve() : this.waiters.push(check));
      check();
    });
  }
  private notify(): void {
    this.waiters.splice(0).forEach((w) => w());
  }
}

/** A socket whose client stopped reading: what it is sent stays in its buffer until `read()`. */
class StuckSink extends TestSink {
  private stuck = true;
  override send(data: string): void {
    if (this.stuck) this.bufferedAmount += data.length;
    super.send(data);
  }
  /** Its client reads again: the buffer drains and stays empty. */
  read(): void {
    this.stuck = false;
    this.bufferedAmount = 0;
  }
}

const principal = (...scopes: Scope[]): Principal => ({ name: scopes.join('+'), scopes: new Set(scopes), rateKey: 'test' });
const ADMIN = principal('admin');
const documents = new Map<string, ReturnType<typeof parse>>();
/** Parsed once per text, as Yoga's parse cache does. */
const doc = (query: string) => documents.get(query) ?? documents.set(query, parse(query)).get(query)!;
const CHANGED = 'subscription { executionChanged { id status lastSeq } }';

let store: Store;
let pubsub: SluicePubSub;
let fanout: Fanout;
let live: Record<string, number>;
/** Called with each outcome the fan-out counts for a slow socket ('lagged', 'closed'). */
let onSlow: (outcome: 'lagged' | 'closed') => void = () => {};

/** A new fan-out over `store` (the one before it is closed now), closed after the test. */
function makeFanout(options: { highWaterBytes?: number; stallMs?: number } = {}): Fanout {
  fanout?.close();
  live = { jobProgress: 0, executionChanged: 0 };
  const made = new Fanout({
    store,
    pubsub,
    schema,
    contextFor: () => ({ store, pubsub }),
    track: (field) => (live[field]!++, () => live[field]!--),
    slow: (outcome) => onSlow(outcome),
    log: pino({ level: 'silent' }),
    ...options,
  });
  deferCleanup(() => made.close());
  return (fanout = made);
}

beforeEach(async () => {
  store = await storeForTest(sqliteFixture);
  pubsub = createSluicePubSub();
  makeFanout();
});
afterEach(() => {
  onSlow = () => {};
  vi.restoreAllMocks();
});

const publish = (change: Change | null): void => {
  if (!change) return;
  for (const event of change.events) pubsub.publish('execution:event', event.executionId, event);
  pubsub.publish('execution:changed', change.execution);
};

async function runningExecution(): Promise<{ executionId: string; attempt: number }> {
  const created = await store.createExecution({ kind: 'CRAWL', title: 't', sessionId: null, input: {}, createdBy: null });
  publish(created);
  const [claimed] = await store.claim('n', 1, 60_000);
  publish(claimed!);
  return { executionId: created.execution.id, attempt: claimed!.execution.attempt };
}

async function log(fence: { executionId: string; attempt: number }, count: number, options: { published?: boolean; bytes?: number } = {}): Promise<void> {
  for (let i = 0; i < count; i++) {
    const message = `line ${i} `.padEnd(options.bytes ?? 0, '~');
    const { change } = await store.write(fence, { event: { type: 'LOG', message } });
    if (options.published ?? true) publish(change);
  }
}

async function subscribe(
  sink: TestSink,
  variables: Record<string, unknown>,
  options: { id?: string; who?: Principal; query?: string; field?: FanoutField } = {},
) {
  const query = options.query ?? JOB_PROGRESS;
  const args: ExecutionArgs = { schema, document: doc(query), variableValues: variables };
  const field = options.field ?? (Fanout.fieldOf(args.document, undefined) as FanoutField);
  const result = await fanout.subscribe({ field, sink, subscriptionId: options.id ?? '1', principal: options.who ?? ADMIN }, args);
  if (!(Symbol.asyncIterator in result)) return { errors: result.errors, stream: null };
  const stream = result;
  /** Resolves when the subscription completes (graphql-ws would then send `complete`). */
  const done = stream.next();
  return { errors: undefined, stream, done };
}

/** A running execution with `count` LOG events after its first two, and a subscriber that has them all. */
async function watchedExecution(count: number) {
  const fence = await runningExecution();
  const watcher = new TestSink();
  await subscribe(watcher, { id: fence.executionId });
  await log(fence, count);
  await watcher.until(() => watcher.frames.length === count + 2);
  return { fence, watcher };
}

const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => from + i);

describe('fan-out groups', () => {
  it('subscribers with the same operation, variables and access share one group: each event resolved once, the same text to every socket', async () => {
    const fence = await runningExecution();
    const render = vi.spyOn(Group.prototype, 'render');
    const sinks = Array.from({ length: 50 }, () => new TestSink());
    // Different cursors, same group: the cursor picks where a stream starts, not what an event looks like.
    const subs = await Promise.all(sinks.map((s, i) => subscribe(s, { id: fence.executionId, after: i % 2 }, { id: `s${i}` })));
    await Promise.all(sinks.map((s) => s.until(() => s.frames.at(-1)?.payload.data!.jobProgress.seq === 2)));
    expect(fanout.stats()).toMatchObject({ feeds: 1, groups: 1 });
    render.mockClear();
    await log(fence, 10);
    publish(await store.transition(fence.executionId, 'succeed', { attempt: fence.attempt }));
    await Promise.all(subs.map((s) => s.done));
    expect(render).toHaveBeenCalledTimes(11); // 11 live events, one group
    for (const [i, sink] of sinks.entries()) {
      expect(sink.frames.map((f) => f.payload.data!.jobProgress.seq)).toEqual(range(1 + (i % 2), 13));
      expect(sink.frames.every((f) => f.id === `s${i}` && f.type === 'next')).toBe(true);
    }
    // Apart from the id, every socket got exactly the same bytes for the same event.
    const body = (raw: string) => raw.slice(raw.indexOf('"type"'));
    expect(sinks[7]!.raw.map(body)).toEqual(sinks[9]!.raw.map(body));
    expect(fanout.stats()).toMatchObject({ feeds: 0, groups: 0 });
    expect(live.jobProgress).toBe(0);
  });

  it('a different access scope or a different selection makes another group', async () => {
    const { executionId } = await runningExecution();
    const withProgress = 'subscription ($id: ID!, $p: Boolean!) { jobProgress(executionId: $id) { seq progress @include(if: $p) { stage } } }';
    const sinks = Array.from({ length: 4 }, () => new TestSink());
    await subscribe(sinks[0]!, { id: executionId });
    await subscribe(sinks[1]!, { id: executionId }, { who: principal('read') });
    await subscribe(sinks[2]!, { id: executionId, p: true }, { query: withProgress });
    await subscribe(sinks[3]!, { id: executionId, p: false }, { query: withProgress });
    await Promise.all(sinks.map((s) => s.until(() => s.frames.length === 2)));
    expect(fanout.stats().groups).toBe(4);
    expect(sinks[2]!.frames[0]!.payload.data!.jobProgress).toEqual({ seq: 1, progress: { stage: 'queued' } });
    expect(sinks[3]!.frames[0]!.payload.data!.jobProgress).toEqual({ seq: 1 });
  });

  it('access is checked per subscriber: without the read scope, FORBIDDEN and no group', async () => {
    const { executionId } = await runningExecution();
    const sink = new TestSink();
    const denied = await subscribe(sink, { id: executionId }, { who: principal('execute') });
    expect(denied.errors?.[0]).toMatchObject({ extensions: { code: 'FORBIDDEN', field: 'jobProgress', requiredScope: 'read' } });
    const changes = await subscribe(sink, {}, { who: principal('cancel'), query: CHANGED });
    expect(changes.errors?.[0]).toMatchObject({ extensions: { code: 'FORBIDDEN', field: 'executionChanged' } });
    expect(fanout.stats()).toMatchObject({ feeds: 0, groups: 0 });
    expect(sink.frames).toEqual([]);
  });

  it('bad arguments and unknown executions answer as the resolver does', async () => {
    const sink = new TestSink();
    expect((await subscribe(sink, { id: 'nope' })).errors?.[0]).toMatchObject({ extensions: { code: 'NOT_FOUND' }, path: ['jobProgress'] });
    expect((await subscribe(sink, { id: 'x', after: -1 })).errors?.[0]).toMatchObject({ extensions: { code: 'BAD_USER_INPUT' } });
    expect((await subscribe(sink, { id: 'x'.repeat(300) })).errors?.[0]).toMatchObject({ extensions: { code: 'BAD_USER_INPUT' } });
    expect((await subscribe(sink, { id: 1.5 })).errors?.[0]?.message).toMatch(/\$id/);
  });
});

describe('fan-out seam: replay, then live, no gap and no duplicate', () => {
  it('a replay paused between reading the log and joining the live set (while 300 events go live) continues without a gap or a repeat', async () => {
    const fence = await runningExecution();
    const watcher = new TestSink();
    await subscribe(watcher, { id: fence.executionId });
    await watcher.until(() => watcher.frames.length === 2); // the feed is live, its edge at seq 2
    // The next log read of the late subscriber returns its page, then waits for the gate.
    let open!: () => void;
    const gate = new Promise<void>((resolve) => (open = resolve));
    const read = store.listEvents.bind(store);
    let paused!: () => void;
    const pausedAt = new Promise<void>((resolve) => (paused = resolve));
    store.listEvents = async (...args) => {
      const page = await read(...args);
      paused();
      await gate;
      return page;
    };
    const late = new TestSink();
    const sub = await subscribe(late, { id: fence.executionId, after: 0 });
    await pausedAt;
    store.listEvents = read;
    await log(fence, 300); // live meanwhile: more than the feed keeps in memory
    await watcher.until(() => watcher.frames.length === 302);
    open();
    await log(fence, 5);
    publish(await store.transition(fence.executionId, 'succeed', { attempt: fence.attempt }));
    await sub.done;
    expect(late.seqs()).toEqual(range(1, 308));
    expect(watcher.seqs()).toEqual(range(1, 308));
  });

  it('a burst that goes live while a subscriber replays from the events kept in memory reaches it (chaos seed 841: seqs 9-12 skipped)', async () => {
    const { fence, watcher } = await watchedExecution(100); // the feed keeps seqs 3-102 in memory (it began at seq 2)
    // Four more events commit; their messages arrive (synchronously, as in-process pub/sub does)
    // while the late subscriber sends what it is missing from memory, between its first two events.
    const burst: Change[] = [];
    for (let i = 0; i < 4; i++) burst.push((await store.write(fence, { event: { type: 'LOG', message: `burst ${i}` } })).change!);
    const render = Group.prototype.render;
    let armed = true;
    vi.spyOn(Group.prototype, 'render').mockImplementation(function (this: Group, root, seq) {
      const payload = render.call(this, root, seq);
      if (armed && seq === 4) {
        armed = false;
        burst.forEach(publish);
      }
      return payload;
    });
    const late = new TestSink();
    const sub = await subscribe(late, { id: fence.executionId, after: 3 });
    await watcher.until(() => watcher.frames.length === 106);
    expect(armed).toBe(false);
    vi.restoreAllMocks();
    publish(await store.transition(fence.executionId, 'succeed', { attempt: fence.attempt }));
    await watcher.until(() => watcher.frames.length === 107);
    await new Promise((resolve) => setTimeout(resolve, 50)); // a member that joined behind the edge gets nothing more
    expect(late.seqs()).toEqual(range(4, 107));
    await sub.done;
    expect(watcher.seqs()).toEqual(range(1, 107));
  });

  it('a replay whose log read fails (the database away a moment) is tried again: every event arrives, and no error', async () => {
    const { fence } = await watchedExecution(20);
    const read = store.listEvents.bind(store);
    let failures = 0;
    store.listEvents = async (...args) => {
      if (failures < 2) {
        failures++;
        throw new StoreUnavailableError(new Error('the log could not be read (test)'));
      }
      return read(...args);
    };
    const late = new TestSink();
    const sub = await subscribe(late, { id: fence.executionId, after: 0 }); // seqs 1-2 are before the feed's memory: read from the log
    await late.until(() => late.frames.length === 22);
    expect(failures).toBe(2);
    store.listEvents = read;
    publish(await store.transition(fence.executionId, 'succeed', { attempt: fence.attempt }));
    await expect(sub.done).resolves.toMatchObject({ done: true });
    expect(late.seqs()).toEqual(range(1, 23));
    expect(late.frames.every((f) => f.type === 'next' && !f.payload.errors)).toBe(true);
  });

  it("a feed whose first read of the row fails reads it again: its subscriber gets every event", async () => {
    const fence = await runningExecution();
    await log(fence, 3);
    const get = store.getExecution.bind(store);
    let calls = 0;
    store.getExecution = async (...args) => {
      // the subscription's own check of the execution is the first read; the new feed's is the second
      if (++calls === 2) throw new StoreUnavailableError(new Error('the row could not be read (test)'));
      return get(...args);
    };
    const sink = new TestSink();
    const sub = await subscribe(sink, { id: fence.executionId });
    await sink.until(() => sink.frames.length === 5);
    expect(calls).toBeGreaterThanOrEqual(3);
    store.getExecution = get;
    await log(fence, 1);
    publish(await store.transition(fence.executionId, 'succeed', { attempt: fence.attempt }));
    await expect(sub.done).resolves.toMatchObject({ done: true });
    expect(sink.seqs()).toEqual(range(1, 7));
  });

  it('pub/sub back after an outage: every watched execution is read again, four at a time, and what was lost arrives', async () => {
    let resubscribed: () => void = () => {};
    pubsub = createSluicePubSub(undefined, undefined, (listener) => ((resubscribed = listener), () => {}));
    makeFanout();
    const watched = [];
    for (let i = 0; i < 40; i++) {
      const fence = await runningExecution();
      const sink = new TestSink();
      await subscribe(sink, { id: fence.executionId });
      await sink.until(() => sink.frames.length === 2);
      watched.push({ fence, sink });
    }
    for (const { fence } of watched) await log(fence, 1, { published: false }); // published while pub/sub was away: lost
    const read = store.listEvents.bind(store);
    let reading = 0;
    let most = 0;
    let reads = 0;
    store.listEvents = async (...args) => {
      reads++;
      most = Math.max(most, ++reading);
      await new Promise((resolve) => setTimeout(resolve, 5));
      try {
        return await read(...args);
      } finally {
        reading--;
      }
    };
    resubscribed();
    await Promise.all(watched.map(({ sink }) => sink.until(() => sink.frames.length === 3)));
    expect(reads).toBe(40);
    expect(most).toBe(4);
    for (const { sink } of watched) expect(sink.seqs()).toEqual([1, 2, 3]);
  });

  it('a cursor ahead of the feed (events committed, their messages still on the way) gets no event twice', async () => {
    const fence = await runningExecution();
    const watcher = new TestSink();
    await subscribe(watcher, { id: fence.executionId });
    await watcher.until(() => watcher.frames.length === 2); // the feed's edge: seq 2
    const inFlight: Change[] = [];
    for (let i = 0; i < 2; i++) inFlight.push((await store.write(fence, { event: { type: 'LOG', message: `late ${i}` } })).change!);
    const ahead = new TestSink();
    const sub = await subscribe(ahead, { id: fence.executionId, after: 4 }); // it saw seq 3 and 4 elsewhere
    inFlight.forEach(publish); // the messages arrive now
    publish(await store.transition(fence.executionId, 'succeed', { attempt: fence.attempt }));
    await sub.done;
    expect(ahead.seqs()).toEqual([5]);
    expect(watcher.seqs()).toEqual(range(1, 5));
  });

  it('a lost live message is refilled from the log once for the whole feed', async () => {
    const fence = await runningExecution();
    const sinks = [new TestSink(), new TestSink()];
    const subs = await Promise.all(sinks.map((s) => subscribe(s, { id: fence.executionId })));
    await Promise.all(sinks.map((s) => s.until(() => s.frames.length === 2)));
    await log(fence, 1, { published: false });
    await log(fence, 1);
    publish(await store.transition(fence.executionId, 'succeed', { attempt: fence.attempt }));
    await Promise.all(subs.map((s) => s.done));
    for (const sink of sinks) expect(sink.seqs()).toEqual(range(1, 5));
  });

  it('on PostgreSQL a lost last event reaches every subscriber by the feed\'s idle read of the log', async () => {
    store = await storeForTest(postgresFixture);
    makeFanout();
    const fence = await runningExecution();
    const sinks = [new TestSink(), new TestSink()];
    const subs = await Promise.all(sinks.map((s) => subscribe(s, { id: fence.executionId })));
    await Promise.all(sinks.map((s) => s.until(() => s.frames.length === 2)));
    await store.transition(fence.executionId, 'succeed', { attempt: fence.attempt }); // never published
    await Promise.all(subs.map((s) => s.done));
    for (const sink of sinks) expect(sink.seqs()).toEqual(range(1, 3));
  });
});

describe('fan-out: slow sockets', () => {
  it('a congested socket falls back to the log and catches up; the others of its group are not held up', async () => {
    makeFanout({ highWaterBytes: 10_000, stallMs: 60_000 });
    const fence = await runningExecution();
    const slow = new TestSink();
    const fast = new TestSink();
    const subs = [await subscribe(slow, { id: fence.executionId }), await subscribe(fast, { id: fence.executionId })];
    await Promise.all([slow, fast].map((s) => s.until(() => s.frames.length === 2)));
    slow.bufferedAmount = 1_000_000; // its client stopped reading
    await log(fence, 50);
    expect(fast.seqs()).toEqual(range(1, 52));
    expect(slow.seqs()).toEqual(range(1, 3)); // one more was sent, then it left the live set
    expect(fanout.stats().lagging).toBe(1);
    await log(fence, 50);
    slow.bufferedAmount = 0; // drained: it reads the rest from the log, then rejoins the group
    await slow.until(() => slow.frames.length === 102);
    expect(fanout.stats().lagging).toBe(0);
    publish(await store.transition(fence.executionId, 'succeed', { attempt: fence.attempt }));
    await Promise.all(subs.map((s) => s.done));
    expect(slow.seqs()).toEqual(range(1, 103));
    expect(fast.seqs()).toEqual(range(1, 103));
  });

  it.each([
    ['from the log', 0],
    ['from the events the feed keeps in memory', 2],
  ])('a replay %s that fills the socket makes it lag though no live event follows; drained, it reads on from the log', async (_, after) => {
    makeFanout({ highWaterBytes: 10_000, stallMs: 60_000 });
    const fence = await runningExecution();
    // In memory: a watcher keeps the feed live while the events go out, so the feed holds them.
    const watcher = new TestSink();
    if (after > 0) {
      await subscribe(watcher, { id: fence.executionId }, { id: 'w' });
      await watcher.until(() => watcher.frames.length === 2);
    }
    await log(fence, 200, { published: after > 0, bytes: 1000 });
    if (after > 0) await watcher.until(() => watcher.frames.length === 202);
    // From here on no event is published: only the replay can fill the socket.
    let lagged!: () => void;
    const lag = new Promise<void>((resolve) => (lagged = resolve));
    onSlow = (outcome) => outcome === 'lagged' && lagged();
    const stuck = new StuckSink();
    const sub = await subscribe(stuck, { id: fence.executionId, after });
    await Promise.race([lag, stuck.until(() => stuck.frames.length === 202 - after)]);
    expect(fanout.stats().lagging).toBe(1);
    // It stopped at the mark (10,000 bytes: about ten events of 1 KB), not after the whole backlog.
    expect(stuck.frames.length).toBeLessThan(20);
    expect(stuck.bufferedAmount).toBeLessThan(10_000 + 2_000);
    stuck.read();
    await stuck.until(() => stuck.frames.length === 202 - after);
    expect(fanout.stats().lagging).toBe(0);
    publish(await store.transition(fence.executionId, 'succeed', { attempt: fence.attempt }));
    await sub.done;
    expect(stuck.seqs()).toEqual(range(after + 1, 203));
  });

  it('a replay that fills a socket which never drains is closed with 1013, though no live event follows', async () => {
    makeFanout({ highWaterBytes: 10_000, stallMs: 50 });
    const fence = await runningExecution();
    await log(fence, 200, { published: false, bytes: 1000 });
    const stuck = new StuckSink();
    const sub = await subscribe(stuck, { id: fence.executionId, after: 0 });
    await Promise.race([stuck.until(() => stuck.closed !== null), stuck.until(() => stuck.frames.length === 202)]);
    expect(stuck.closed).toMatchObject({ code: WS_TOO_SLOW });
    expect(stuck.frames.length).toBeLessThan(20);
    await sub.stream!.return(undefined); // what graphql-ws does when the socket closes
    expect(live.jobProgress).toBe(0);
    expect(fanout.stats()).toMatchObject({ feeds: 0, lagging: 0 });
  });

  it('a socket that stays congested is closed with 1013, and its subscription released', async () => {
    makeFanout({ highWaterBytes: 10_000, stallMs: 50 });
    const fence = await runningExecution();
    const slow = new TestSink();
    const sub = await subscribe(slow, { id: fence.executionId });
    await slow.until(() => slow.frames.length === 2);
    slow.bufferedAmount = 1_000_000;
    await log(fence, 1);
    await slow.until(() => slow.closed !== null);
    expect(slow.closed).toMatchObject({ code: WS_TOO_SLOW, reason: expect.stringContaining('afterSeq') });
    await sub.stream!.return(undefined); // what graphql-ws does when the socket closes
    expect(live.jobProgress).toBe(0);
    expect(fanout.stats()).toMatchObject({ feeds: 0, lagging: 0 });
  });
});

describe('fan-out: executionChanged', () => {
  it('one shared stream: the newest row per execution wins, a congested socket gets the newest row of each once drained', async () => {
    makeFanout({ highWaterBytes: 10_000, stallMs: 60_000 });
    const render = vi.spyOn(Group.prototype, 'render');
    const sinks = Array.from({ length: 10 }, () => new TestSink());
    await Promise.all(sinks.map((s, i) => subscribe(s, {}, { query: CHANGED, id: `c${i}` })));
    expect(fanout.stats()).toMatchObject({ feeds: 1, groups: 1 });
    const row = (id: string, status: string, lastSeq: number) => ({ id, status, lastSeq }) as never;
    pubsub.publish('execution:changed', row('a', 'RUNNING', 2));
    sinks[0]!.bufferedAmount = 1_000_000;
    pubsub.publish('execution:changed', row('a', 'CANCELLED', 4));
    pubsub.publish('execution:changed', row('a', 'CANCELLING', 3)); // from another node, late
    pubsub.publish('execution:changed', row('b', 'QUEUED', 1));
    await sinks[9]!.until(() => sinks[9]!.frames.length === 3);
    expect(render).toHaveBeenCalledTimes(3); // once per change for all ten sockets
    const statuses = (s: TestSink) => s.frames.map((f) => `${f.payload.data!.executionChanged.id}:${f.payload.data!.executionChanged.status}`);
    expect(statuses(sinks[9]!)).toEqual(['a:RUNNING', 'a:CANCELLED', 'b:QUEUED']);
    expect(statuses(sinks[0]!)).toEqual(['a:RUNNING', 'a:CANCELLED']);
    pubsub.publish('execution:changed', row('b', 'RUNNING', 2));
    sinks[0]!.bufferedAmount = 0;
    await sinks[0]!.until(() => sinks[0]!.frames.length === 3);
    expect(statuses(sinks[0]!)).toEqual(['a:RUNNING', 'a:CANCELLED', 'b:RUNNING']);
  });
});
