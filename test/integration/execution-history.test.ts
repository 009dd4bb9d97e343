// executionHistory (the history a page at a time, by an opaque cursor, with a text filter and a
// total count), through the API on both stores: the same pages, counts and errors on each.
import { describe, expect, it } from 'vitest';
import { defineJob } from '../../server/engine/job.ts';
import { collect, JOB_PROGRESS, START_CRAWL, startTestApp, type EventPayload, type TestApp, type TestAppOptions } from '../helpers/app.ts';
import { deferCleanup } from '../helpers/cleanup.ts';
import { appStores } from '../helpers/app-stores.ts';

const HISTORY = `query ($kind: ExecutionKind, $status: [ExecutionStatus!], $text: String, $after: String, $limit: Int) {
  executionHistory(kind: $kind, status: $status, text: $text, after: $after, limit: $limit) {
    executions { id title status } nextCursor totalCount
  }
}`;

interface Connection {
  executions: { id: string; title: string; status: string }[];
  nextCursor: string | null;
  totalCount: number;
}

/** A crawl that ends at once: FAILED when its URL says so, else SUCCEEDED; no site is fetched. */
const instant = defineJob({
  kind: 'CRAWL',
  resumable: true,
  run: async (input) => {
    if ((input as { url: string }).url.includes('fail')) throw new Error('told to fail');
  },
});

async function app(config: TestAppOptions): Promise<TestApp> {
  const started = await startTestApp({ ...config, jobs: [instant] });
  deferCleanup(() => started.stop({ remove: false }));
  return started;
}

/** Starts a crawl of `url` and waits for its end; its id. */
async function crawled(t: TestApp, url: string): Promise<string> {
  const res = await t.gql(START_CRAWL, { input: { url } });
  expect(res.errors).toBeUndefined();
  const id = res.data!.startCrawl.id as string;
  await collect<EventPayload>(t.ws(), JOB_PROGRESS, { id }, 'jobProgress').done;
  return id;
}

async function history(t: TestApp, variables: Record<string, unknown>): Promise<Connection> {
  const res = await t.gql<{ executionHistory: Connection }>(HISTORY, variables);
  expect(res.errors).toBeUndefined();
  return res.data!.executionHistory;
}

/** Every page from the first to the one whose nextCursor is null, `limit` at a time. */
async function allPages(t: TestApp, variables: Record<string, unknown>, limit: number): Promise<Connection[]> {
  const pages: Connection[] = [];
  let after: string | null = null;
  do {
    const page = await history(t, { ...variables, after, limit });
    pages.push(page);
    after = page.nextCursor;
  } while (after !== null && pages.length < 20);
  return pages;
}

describe.each(appStores)('executionHistory ($name)', ({ config }) => {
  it('pages newest first by cursor, each execution once, filters by text and status, and counts what matches', async () => {
    const t = await app(await config());
    const base = 'http://127.0.0.1:9';
    const urls = [`${base}/Docs/a`, `${base}/blog/b`, `${base}/docs/fail-c`, `${base}/DOCS/d`, `${base}/blog/e`, `${base}/docs%5F/f`];
    const ids: string[] = [];
    for (const url of urls) ids.push(await crawled(t, url));

    const pages = await allPages(t, {}, 3);
    expect(pages.map((page) => page.executions.length)).toEqual([3, 3]);
    expect(pages.flatMap((page) => page.executions.map((e) => e.id))).toEqual([...ids].reverse());
    expect(pages.every((page) => page.totalCount === 6)).toBe(true);
    expect(pages.at(-1)!.nextCursor).toBeNull();

    // ASCII letters in either case; the rest as typed; % and _ are plain characters, not patterns.
    const docs = await allPages(t, { text: '  dOcS ' }, 2);
    expect(docs.flatMap((page) => page.executions.map((e) => new URL(e.title).pathname))).toEqual(['/docs%5F/f', '/DOCS/d', '/docs/fail-c', '/Docs/a']);
    expect(docs.map((page) => page.totalCount)).toEqual([4, 4]);
    expect((await history(t, { text: '%5F' })).executions.map((e) => e.id)).toEqual([ids[5]]);
    expect((await history(t, { text: '_' })).totalCount).toBe(0);
    expect((await history(t, { text: '%' })).totalCount).toBe(1);

    const failed = await history(t, { text: 'docs', status: ['FAILED'] });
    expect(failed).toEqual({ executions: [{ id: ids[2], title: urls[2], status: 'FAILED' }], nextCursor: null, totalCount: 1 });
    expect(await history(t, { kind: 'CHAT' })).toEqual({ executions: [], nextCursor: null, totalCount: 0 });
    // An empty text filters nothing.
    expect((await history(t, { text: '   ' })).totalCount).toBe(6);
  });

  it('answers a bad cursor, a too long text and a bad limit with BAD_USER_INPUT', async () => {
    const t = await app(await config());
    for (const path of ['a', 'b']) await crawled(t, `http://127.0.0.1:9/${path}`);
    const first = await history(t, { limit: 1 });
    const cursor = first.nextCursor!;
    expect(cursor).toEqual(expect.any(String));
    const pagesCursor = Buffer.from('p:1').toString('base64url');
    const code = async (variables: Record<string, unknown>) => (await t.gql(HISTORY, variables)).errors?.[0]?.extensions?.code;

    for (const after of ['garbage', '', 'h:1', pagesCursor, Buffer.from('h:-1').toString('base64url'), Buffer.from('h:01').toString('base64url'), 'x'.repeat(500), `${cursor}\u0000`]) {
      expect(await code({ after }), after).toBe('BAD_USER_INPUT');
    }
    expect(await code({ text: 'x'.repeat(201) })).toBe('BAD_USER_INPUT');
    expect(await code({ text: 'a\u0000b' })).toBe('BAD_USER_INPUT');
    for (const limit of [0, -1, 501]) expect(await code({ limit })).toBe('BAD_USER_INPUT');
    const error = (await t.gql(HISTORY, { after: 'garbage' })).errors![0]!;
    expect(error.message).toContain('executionHistory');

    // What this server handed out goes on; 200 characters is still a text.
    const next = await history(t, { after: cursor, limit: 1 });
    expect(next.executions).toHaveLength(1);
    expect(next.executions[0]!.id).not.toBe(first.executions[0]!.id);
    expect(next).toMatchObject({ nextCursor: null, totalCount: 2 });
    expect((await history(t, { text: 'x'.repeat(200) })).totalCount).toBe(0);
  });
});
