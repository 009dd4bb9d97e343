import { beforeEach, describe, expect, it, onTestFinished, vi } from 'vitest';
import { FencedError, type Execution } from '../../server/executions/types.ts';
import type { Store, StoreWrite } from '../../server/store/store.ts';
import { deferCleanup } from '../helpers/cleanup.ts';
import { SqliteStore } from '../../server/store/sqlite/sqlite-store.ts';
import { storeFixtures } from '../helpers/stores.ts';

async function until(check: () => Promise<boolean>): Promise<void> {
  while (!(await check())) await new Promise((resolve) => setTimeout(resolve, 2));
}

const page = (url: string, hash: string): StoreWrite['page'] => ({
  sourceUrl: 'http://127.0.0.1:1',
  url,
  title: `title of ${url}`,
  markdown: `# ${url}\n\nbody ${hash}`,
  contentHash: hash,
  chunks: [{ heading: url, text: `body ${hash}` }],
});

describe.each(storeFixtures)('store conformance: $name', (fixture) => {
  let store: Store;

  beforeEach(async () => {
    const opened = await fixture.open();
    store = opened.store;
    deferCleanup(opened.dispose);
  });

  const create = async (title = 'x'): Promise<Execution> =>
    (await store.createExecution({ kind: 'CRAWL', title, sessionId: 's1', input: { title }, createdBy: 'local' })).execution;

  const running = async (): Promise<Execution> => {
    const e = await create();
    const [claimed] = await store.claim('node-a', 1, 10_000);
    expect(claimed?.execution.id).toBe(e.id);
    return claimed!.execution;
  };

  it('creates QUEUED with a STATUS event at seq 1', async () => {
    const e = await create();
    expect(e.status).toBe('QUEUED');
    expect(e.lastSeq).toBe(1);
    expect(e.attempt).toBe(1);
    const events = await store.listEvents(e.id, 0);
    expect(events.map((x) => [x.seq, x.type, x.status])).toEqual([[1, 'STATUS', 'QUEUED']]);
  });

  it('claims in queue order, up to the limit, once', async () => {
    const ids = [(await create('a')).id, (await create('b')).id, (await create('c')).id];
    const first = await store.claim('node-a', 2, 10_000);
    expect(first.map((c) => c.execution.id)).toEqual(ids.slice(0, 2));
    expect(first.every((c) => c.execution.status === 'RUNNING' && c.execution.node === 'node-a')).toBe(true);
    const second = await store.claim('node-b', 5, 10_000);
    expect(second.map((c) => c.execution.id)).toEqual([ids[2]]);
    expect(await store.claim('node-b', 5, 10_000)).toEqual([]);
  });

  it('allows only the transitions of the status machine', async () => {
    const queued = await create();
    expect(await store.transition(queued.id, 'succeed')).toBeNull();
    expect(await store.transition(queued.id, 'finishCancel')).toBeNull();
    expect(await store.transition(queued.id, 'requestCancel')).toBeNull();
    expect((await store.transition(queued.id, 'cancelQueued'))?.execution.status).toBe('CANCELLED');

    const e = await running();
    expect((await store.transition(e.id, 'requestCancel', { reason: 'r', by: 'me' }))?.execution.status).toBe('CANCELLING');
    // Nothing leaves CANCELLING but CANCELLED.
    for (const name of ['succeed', 'fail', 'requeue', 'interrupt', 'claim', 'cancelQueued'] as const) {
      expect(await store.transition(e.id, name, { attempt: e.attempt })).toBeNull();
    }
    const done = await store.transition(e.id, 'finishCancel');
    expect(done?.execution.status).toBe('CANCELLED');
    expect(done?.execution.cancelledBy).toBe('me');
    // Nothing leaves a terminal state.
    for (const name of ['succeed', 'fail', 'requeue', 'interrupt', 'claim', 'finishCancel', 'requestCancel'] as const) {
      expect(await store.transition(e.id, name)).toBeNull();
    }
  });

  it('cancels a queued execution at once, and a recovery never revives it', async () => {
    const e = await create();
    const change = await store.transition(e.id, 'cancelQueued', { reason: 'no longer needed' });
    expect(change?.execution.status).toBe('CANCELLED');
    expect(change?.execution.finishedAt).not.toBeNull();
    expect(await store.claim('node-a', 10, 10_000)).toEqual([]);
    expect(await store.transition(e.id, 'requeue', { attempt: 1 })).toBeNull();
  });

  it('fences writes by attempt and refuses them once the row moved on', async () => {
    const e = await running();
    const fence = { executionId: e.id, attempt: e.attempt };
    await store.write(fence, { event: { type: 'LOG', message: 'ok' } });
    await expect(store.write({ ...fence, attempt: 99 }, { event: { type: 'LOG', message: 'x' } })).rejects.toBeInstanceOf(FencedError);

    const requeued = await store.transition(e.id, 'requeue', { attempt: e.attempt });
    expect(requeued?.execution.attempt).toBe(2);
    await expect(store.write(fence, { page: page('http://x/1', 'h') })).rejects.toBeInstanceOf(FencedError);
    // A stale worker's final status is refused too.
    expect(await store.transition(e.id, 'succeed', { attempt: 1 })).toBeNull();

    const [again] = await store.claim('node-b', 1, 10_000);
    await store.transition(e.id, 'requestCancel');
    await expect(store.write({ executionId: e.id, attempt: again!.execution.attempt }, { event: { type: 'LOG', message: 'late' } }))
      .rejects.toBeInstanceOf(FencedError);
  });

  it('writes that arrive together are each fenced on their own', async () => {
    const a = await running();
    const b = await running();
    const fa = { executionId: a.id, attempt: a.attempt };
    const fb = { executionId: b.id, attempt: b.attempt };
    // issued in one turn, without waiting for each other
    const results = await Promise.allSettled([
      store.write(fa, { page: page('http://x/g1', 'g1'), event: { type: 'PAGE', message: 'g1' }, progress: { pagesFetched: 1 }, checkpoint: { g1: { s: 'done' } } }),
      store.write({ ...fa, attempt: 99 }, { page: page('http://x/stale', 's'), event: { type: 'PAGE', message: 'stale' }, checkpoint: { stale: 1 } }),
      store.write(fb, { event: { type: 'LOG', message: 'b' }, progress: { pagesFetched: 7 } }),
      store.write(fa, { page: page('http://x/g2', 'g2'), event: { type: 'PAGE', message: 'g2' }, progress: { pagesFetched: 2 }, checkpoint: { g2: { s: 'done' } } }),
    ]);
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'rejected', 'fulfilled', 'fulfilled']);
    expect((results[1] as PromiseRejectedResult).reason).toBeInstanceOf(FencedError);
    const stored = results.map((r) => (r.status === 'fulfilled' ? r.value.pageStored : 'refused'));
    expect(stored).toEqual([true, 'refused', null, true]);
    // seq 1 and 2 are the QUEUED and RUNNING status events; PostgreSQL may commit the two in either order
    const events = await store.listEvents(a.id, 2);
    expect(events.map((x) => x.seq)).toEqual([3, 4]);
    expect(events.map((x) => x.message).sort()).toEqual(['g1', 'g2']);
    expect(await store.getExecution(a.id)).toMatchObject({ lastSeq: 4, progress: { pagesFetched: 2 } });
    expect(await store.getExecution(b.id)).toMatchObject({ progress: { pagesFetched: 7 } });
    expect(Object.fromEntries(await store.loadCheckpoint(a.id))).toEqual({ g1: { s: 'done' }, g2: { s: 'done' } });
    expect((await store.knowledge.search('body', 10)).map((h) => h.url).sort()).toEqual(['http://x/g1', 'http://x/g2']);
  });

  it('writes a group of pages in one transaction, in order, each as write would; refused as a whole once fenced', async () => {
    const e = await running();
    const fence = { executionId: e.id, attempt: e.attempt };
    const pageWrite = (n: number, hash: string) => ({
      page: page(`http://x/m${n}`, hash),
      event: { type: 'PAGE' as const, message: `m${n}` },
      progress: { pagesFetched: n },
      checkpoint: { [`m${n}`]: { s: 'done' } },
      whenStored: { chunksAdded: 1, checkpoint: { '#meta': { stored: n } } },
    });
    // m1 twice with the same hash: the second is not stored again, so its whenStored is not applied
    const { change, pagesStored } = await store.writeMany(fence, [pageWrite(1, 'a'), pageWrite(2, 'b'), { ...pageWrite(1, 'a'), whenStored: { chunksAdded: 1, checkpoint: { '#meta': { stored: 99 } } } }]);
    expect(pagesStored).toEqual([true, true, false]);
    expect(change!.events.map((x) => [x.seq, x.message])).toEqual([[3, 'm1'], [4, 'm2'], [5, 'm1']]);
    expect(change!.execution).toMatchObject({ lastSeq: 5, progress: { pagesFetched: 2, chunksStored: 2 } });
    expect((await store.listEvents(e.id, 2)).map((x) => x.message)).toEqual(['m1', 'm2', 'm1']);
    expect(await store.getExecution(e.id)).toMatchObject({ lastSeq: 5, progress: { pagesFetched: 2, chunksStored: 2 } });
    expect(Object.fromEntries(await store.loadCheckpoint(e.id))).toEqual({ m1: { s: 'done' }, m2: { s: 'done' }, '#meta': { stored: 2 } });

    await store.transition(e.id, 'pause');
    await expect(store.writeMany(fence, [pageWrite(3, 'c'), pageWrite(4, 'd')])).rejects.toBeInstanceOf(FencedError);
    expect(await store.getExecution(e.id)).toMatchObject({ status: 'PAUSED', lastSeq: 6, progress: { pagesFetched: 2, chunksStored: 2 } });
    expect([...(await store.loadCheckpoint(e.id)).keys()].sort()).toEqual(['#meta', 'm1', 'm2']);
    expect((await store.knowledge.search('body', 10)).map((h) => h.url).sort()).toEqual(['http://x/m1', 'http://x/m2']);
  });

  it('keeps event seqs contiguous and progress monotonic', async () => {
    const e = await running();
    const fence = { executionId: e.id, attempt: e.attempt };
    await store.write(fence, { event: { type: 'PROGRESS', message: null }, progress: { percent: 40, pagesFetched: 4 } });
    await store.write(fence, { event: { type: 'PROGRESS', message: null }, progress: { percent: 10, pagesFetched: 2 } });
    await store.write(fence, { progress: { pagesDiscovered: 9 } }); // no event: no seq
    await store.transition(e.id, 'succeed', { attempt: e.attempt, result: { ok: true } });
    const events = await store.listEvents(e.id, 0);
    expect(events.map((x) => x.seq)).toEqual([1, 2, 3, 4, 5]);
    expect(events[3]!.progress).toMatchObject({ percent: 40, pagesFetched: 4 });
    const final = await store.getExecution(e.id);
    expect(final).toMatchObject({ status: 'SUCCEEDED', lastSeq: 5, result: { ok: true }, node: null });
    expect(final!.progress).toMatchObject({ percent: 100, pagesFetched: 4, pagesDiscovered: 9, stage: 'done' });
    expect((await store.listEvents(e.id, 3)).map((x) => x.seq)).toEqual([4, 5]);
  });

  it('stores pages once per content hash and keeps checkpoints', async () => {
    const e = await running();
    const fence = { executionId: e.id, attempt: e.attempt };
    const first = await store.write(fence, { page: page('http://x/1', 'h1'), checkpoint: { 'http://x/1': { s: 'done' }, 'http://x/2': { s: 'q' } } });
    expect(first.pageStored).toBe(true);
    expect((await store.write(fence, { page: page('http://x/1', 'h1') })).pageStored).toBe(false);
    expect((await store.write(fence, { page: page('http://x/1', 'h2') })).pageStored).toBe(true);
    // the changed page's old chunks are gone, its new ones are there (a new page has none to delete)
    expect((await store.knowledge.search('h1', 10)).map((h) => h.text)).toEqual([]);
    expect((await store.knowledge.search('h2', 10)).map((h) => h.text)).toEqual(['body h2']);
    await store.write(fence, { checkpoint: { 'http://x/2': null, '#meta': { n: 1 } } });
    const checkpoint = await store.loadCheckpoint(e.id);
    expect(Object.fromEntries(checkpoint)).toEqual({ 'http://x/1': { s: 'done' }, '#meta': { n: 1 } });
  });

  it('finds orphans by lease, and all of them when asked', async () => {
    const e = await create();
    const [claimed] = await store.claim('node-a', 1, 60_000);
    expect(await store.listOrphans(false)).toEqual([]);
    expect((await store.listOrphans(true)).map((x) => x.id)).toEqual([e.id]);
    // A lease that has run out (by the database's clock): renewed with a lease of 1 ms, then waited past.
    const short = await store.renewLeases('node-a', [e.id], 1);
    await until(async () => (await store.listOrphans(false)).length > 0);
    expect((await store.listOrphans(false)).map((x) => x.id)).toEqual([e.id]);
    const renewed = await store.renewLeases('node-a', [e.id], 60_000);
    expect(renewed[0]!.leaseUntil).toBeGreaterThan(short[0]!.leaseUntil! + 30_000);
    expect(claimed!.execution.leaseUntil).toBeGreaterThan(claimed!.execution.startedAt! + 30_000);
    expect(await store.listOrphans(false)).toEqual([]);
  });

  it('lists active executions by kind and session', async () => {
    const a = await create('a');
    await store.createExecution({ kind: 'CHAT', title: 'q', sessionId: 's2', input: {}, createdBy: null });
    await store.transition(a.id, 'cancelQueued');
    const b = await create('b');
    const active = await store.listExecutions({ statuses: ['QUEUED', 'RUNNING', 'CANCELLING'], kind: 'CRAWL', oldestFirst: true });
    expect(active.map((x) => x.id)).toEqual([b.id]);
    expect((await store.listExecutions({ sessionId: 's2' })).map((x) => x.kind)).toEqual(['CHAT']);
  });

  describe('knowledge', () => {
    const SOURCE = 'http://docs.example.test';
    const doc = (path: string, title: string, chunks: { heading: string | null; text: string }[]): StoreWrite['page'] => ({
      sourceUrl: SOURCE,
      url: `${SOURCE}${path}`,
      title,
      markdown: chunks.map((c) => c.text).join('\n\n'),
      contentHash: `${path}-${chunks.length}`,
      chunks,
    });

    const seed = async (): Promise<Execution> => {
      const e = await running();
      const fence = { executionId: e.id, attempt: e.attempt };
      await store.write(fence, {
        page: doc('/ports', 'Ports', [
          { heading: 'Network > Ports', text: 'The gateway listens on port 7431 by default. Change it with GATEWAY_PORT.' },
          { heading: 'Network > Firewall', text: 'Open the firewall for the gateway before you start it.' },
        ]),
      });
      await store.write(fence, {
        page: doc('/storage', 'Storage', [{ heading: 'Storage', text: 'Snapshots are kept for 30 days. A port of the data is exported nightly.' }]),
      });
      await store.write(fence, {
        page: doc('/faq', 'FAQ', [{ heading: null, text: 'Questions (and answers) about "quotes", stars * and colons: here.' }]),
      });
      return e;
    };

    it('ranks by relevance and marks the matched terms in the snippet', async () => {
      await seed();
      const hits = await store.knowledge.search('gateway port', 10);
      expect(hits.map((h) => h.url)).toEqual([`${SOURCE}/ports`, `${SOURCE}/storage`]);
      expect(hits[0]!.score).toBeGreaterThan(hits[1]!.score);
      expect(hits[0]!).toMatchObject({ title: 'Ports', heading: 'Network > Ports' });
      expect(hits[0]!.snippet).toContain('«port»');
      expect(hits[0]!.snippet).toContain('«gateway»');
      // Porter stemming: "listening" finds "listens".
      expect((await store.knowledge.search('listening', 5))[0]?.url).toBe(`${SOURCE}/ports`);
    });

    it('weights headings above body text', async () => {
      const e = await seed();
      const fence = { executionId: e.id, attempt: e.attempt };
      await store.write(fence, { page: doc('/backups', 'Backups', [{ heading: 'Backups', text: 'Retention of backups is set per bucket.' }]) });
      await store.write(fence, { page: doc('/retention', 'Keeping data', [{ heading: 'Retention', text: 'Data is kept for thirty days.' }]) });
      const hits = await store.knowledge.search('retention', 5);
      expect(hits.map((h) => h.url)).toEqual([`${SOURCE}/retention`, `${SOURCE}/backups`]);
    });

    it('returns one hit per page unless asked for more, and honours the limit', async () => {
      await seed();
      expect((await store.knowledge.search('gateway firewall', 10)).length).toBe(1);
      expect((await store.knowledge.search('gateway firewall', 10, { perPage: 3 })).length).toBe(2);
      expect((await store.knowledge.search('port', 1)).length).toBe(1);
    });

    it('returns nothing, and no error, when nothing matches', async () => {
      await seed();
      expect(await store.knowledge.search('zeppelin', 10)).toEqual([]);
      expect(await store.knowledge.search('   ', 10)).toEqual([]);
    });

    it.each([
      '"gateway',
      'gateway*',
      'gateway NEAR port',
      'NEAR(gateway port)',
      'gateway AND NOT port',
      '-gateway',
      'heading:gateway',
      '(gateway OR',
      'gateway) ^port',
      '"" * : ( ) - + ^ { }',
      "gateway'; DROP TABLE chunks; --",
    ])('treats hostile query syntax as plain words: %s', async (query) => {
      await seed();
      const hits = await store.knowledge.search(query, 10);
      if (/gateway/i.test(query)) expect(hits[0]?.url).toBe(`${SOURCE}/ports`);
      else expect(hits).toEqual([]);
      expect((await store.knowledge.search('gateway', 10)).length).toBe(1);
    });

    it('lists sources with their counts and deletes one with its pages and chunks', async () => {
      const e = await seed();
      const [source] = await store.knowledge.listSources();
      expect(source).toMatchObject({ url: SOURCE, pages: 3, chunks: 4, lastExecutionId: e.id });
      expect(source!.lastCrawledAt).toBeGreaterThan(0);
      expect(await store.knowledge.getSource(source!.id)).toEqual(source);
      expect(await store.knowledge.deleteSource(source!.id)).toBe(true);
      expect(await store.knowledge.listSources()).toEqual([]);
      expect(await store.knowledge.getSource(source!.id)).toBeNull();
      expect(await store.knowledge.search('gateway port snapshots', 10)).toEqual([]);
      expect(await store.knowledge.deleteSource(source!.id)).toBe(false);
    });
  });

  it.runIf(fixture.name === 'sqlite')('a call made after a write, without waiting for it, applies after it (SQLite group commit)', async () => {
    const e = await running();
    const fence = { executionId: e.id, attempt: e.attempt };
    const written = store.write(fence, { event: { type: 'LOG', message: 'first' } });
    // The write is queued for the end of this turn; the transition commits it first, so it is not refused.
    const cancelled = await store.transition(e.id, 'requestCancel', { reason: 'stop' });
    await expect(written).resolves.toMatchObject({ change: { events: [{ seq: 3, message: 'first' }] } });
    expect(cancelled!.events[0]).toMatchObject({ seq: 4, status: 'CANCELLING' });
    const late = store.write(fence, { event: { type: 'LOG', message: 'late' } });
    expect((await store.listEvents(e.id, 0)).map((x) => x.seq)).toEqual([1, 2, 3, 4]);
    await expect(late).rejects.toBeInstanceOf(FencedError);
  });

  it.runIf(fixture.name === 'sqlite')('a job write is planned on the row as it is now: renewed, or moved on by another store on the file', async () => {
    const e = await running();
    const fence = { executionId: e.id, attempt: e.attempt };
    await store.write(fence, { event: { type: 'LOG', message: 'one' } });
    const [renewed] = await store.renewLeases('node-a', [e.id], 60_000);
    const after = await store.write(fence, { event: { type: 'LOG', message: 'two' } });
    expect(after.change?.execution).toMatchObject({ lastSeq: 4, leaseUntil: renewed!.leaseUntil });
    const other = new SqliteStore((store as SqliteStore).file);
    onTestFinished(() => other.close());
    expect(await other.transition(e.id, 'requestCancel', { reason: 'elsewhere' })).not.toBeNull();
    await expect(store.write(fence, { event: { type: 'LOG', message: 'late' } })).rejects.toBeInstanceOf(FencedError);
    expect((await store.listEvents(e.id, 0)).map((x) => x.type)).toEqual(['STATUS', 'STATUS', 'LOG', 'LOG', 'STATUS']);
  });

  describe('chat', () => {
    it('keeps sessions and their messages in order, newest session first', async () => {
      // Activity is ordered by time: give each step its own millisecond, as real use does.
      vi.useFakeTimers({ toFake: ['Date'], now: 1_000 });
      onTestFinished(() => void vi.useRealTimers());
      const a = await store.chat.createSession('first');
      vi.setSystemTime(2_000);
      const b = await store.chat.createSession('second');
      vi.setSystemTime(3_000);
      expect(await store.chat.getSession(a.id)).toEqual(a);
      expect(await store.chat.getSession('nope')).toBeNull();
      const [q, r] = await store.chat.addMessages(a.id, [
        { role: 'user', text: 'q1' },
        { id: 'answer-1', role: 'assistant', text: '' },
      ]);
      expect(q).toMatchObject({ role: 'user', text: 'q1', sessionId: a.id, executionId: null, status: null });
      expect(r).toMatchObject({ id: 'answer-1', role: 'assistant', text: '' });
      await store.chat.addMessages(a.id, [{ role: 'user', text: 'q2' }]);
      expect((await store.chat.listMessages(a.id)).map((m) => m.text)).toEqual(['q1', '', 'q2']);
      expect((await store.chat.listMessages(a.id, 2)).map((m) => m.text)).toEqual(['', 'q2']);
      expect(await store.chat.listMessages(b.id)).toEqual([]);
      expect((await store.chat.listSessions(10)).map((s) => s.id)).toEqual([a.id, b.id]);
      expect((await store.chat.listSessions(1)).length).toBe(1);
    });

    it('an answer reads as its TOKEN events until complete, is fenced, and reads its status from the execution', async () => {
      vi.useFakeTimers({ toFake: ['Date'], now: 1_000 });
      onTestFinished(() => void vi.useRealTimers());
      const session = await store.chat.createSession('s');
      const e = await running();
      await store.chat.addMessages(session.id, [{ id: 'm1', role: 'assistant', text: '', executionId: null }]);
      await store.chat.setMessageExecution('m1', e.id);
      const touched = (await store.chat.getSession(session.id))!.updatedAt;
      const fence = { executionId: e.id, attempt: e.attempt };
      vi.setSystemTime(2_000);
      await store.write(fence, { event: { type: 'TOKEN', message: 'Hello ' } });
      await store.write(fence, { event: { type: 'LOG', message: 'not part of the answer' } });
      await store.write(fence, { event: { type: 'TOKEN', message: 'world' } });
      expect((await store.chat.listMessages(session.id))[0]).toMatchObject({ text: 'Hello world', executionId: e.id, status: 'RUNNING' });
      // A token is an event row: the session is touched when the question was added and when the answer completes, not per token.
      expect((await store.chat.getSession(session.id))!.updatedAt).toBe(touched);

      await store.transition(e.id, 'requestCancel', { reason: 'stop' });
      await expect(store.write(fence, { event: { type: 'TOKEN', message: '!' }, message: { id: 'm1', text: 'Hello world!' } }))
        .rejects.toBeInstanceOf(FencedError);
      await store.transition(e.id, 'finishCancel');
      const [message] = await store.chat.listMessages(session.id);
      expect(message).toMatchObject({ text: 'Hello world', status: 'CANCELLED' });
      const tokens = (await store.listEvents(e.id, 0)).filter((x) => x.type === 'TOKEN').map((x) => x.message).join('');
      expect(tokens).toBe(message!.text);
      expect((await store.chat.getSession(session.id))!.updatedAt).toBe(touched);
    });

    it('a complete answer: its last write stores the full text and touches the session', async () => {
      vi.useFakeTimers({ toFake: ['Date'], now: 1_000 });
      onTestFinished(() => void vi.useRealTimers());
      const session = await store.chat.createSession('s');
      const [empty] = await store.chat.addMessages(session.id, [{ role: 'assistant', text: '' }]);
      const e = await running();
      await store.chat.addMessages(session.id, [{ id: 'm2', role: 'assistant', text: '', executionId: e.id }]);
      const fence = { executionId: e.id, attempt: e.attempt };
      await store.write(fence, { event: { type: 'TOKEN', message: 'Port ' } });
      vi.setSystemTime(5_000);
      await store.write(fence, { event: { type: 'TOKEN', message: '7431.' }, message: { id: 'm2', text: 'Port 7431.' } });
      await store.transition(e.id, 'succeed', { result: {} });
      const messages = await store.chat.listMessages(session.id);
      expect(messages.map((m) => [m.text, m.status])).toEqual([['', null], ['Port 7431.', 'SUCCEEDED']]);
      expect(messages[0]!.id).toBe(empty!.id);
      expect((await store.chat.getSession(session.id))!.updatedAt).toBe(5_000);
    });
  });
});
