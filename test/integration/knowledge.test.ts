import { beforeAll, describe, expect, it } from 'vitest';
import { startFactSite } from '../fixtures/fact-site.ts';
import type { Site } from '../fixtures/site.ts';
import { collect, JOB_PROGRESS, START_CRAWL, type EventPayload, type TestApp } from '../helpers/app.ts';
import { codeOf, crawlToEnd } from '../helpers/knowledge.ts';
import { suiteResources } from '../helpers/suite-resources.ts';

const SEARCH = /* GraphQL */ `
  query ($query: String!, $limit: Int) { searchKnowledge(query: $query, limit: $limit) { url title heading snippet score } }
`;
const SOURCES = /* GraphQL */ `
  query {
    knowledgeSources { id url title pages chunks lastCrawledAt lastExecutionId lastExecution { id kind status } }
  }
`;
const DELETE = /* GraphQL */ `
  mutation ($id: ID!) { deleteKnowledgeSource(id: $id) { deleted cancelledExecutions } }
`;

interface Hit {
  url: string;
  title: string;
  heading: string | null;
  snippet: string;
  score: number;
}
interface Source {
  id: string;
  url: string;
  pages: number;
  chunks: number;
  lastCrawledAt: string | null;
  lastExecutionId: string | null;
  lastExecution: { id: string; kind: string; status: string } | null;
}

describe('knowledge search and sources', () => {
  const resources = suiteResources();
  let t: TestApp;
  let site: Site;
  let crawlId: string;

  const search = async (query: string, limit?: number) => t.gql<{ searchKnowledge: Hit[] }>(SEARCH, { query, limit });
  const sources = async () => (await t.gql<{ knowledgeSources: Source[] }>(SOURCES)).data!.knowledgeSources;

  beforeAll(async () => {
    site = await startFactSite();
    resources.defer(() => site.close());
    t = await resources.app();
    crawlId = await crawlToEnd(t, site.url);
  });

  it('ranks the page holding the fact first and marks the matched terms', async () => {
    const { data, errors } = await search('gateway listening port');
    expect(errors).toBeUndefined();
    const hits = data!.searchKnowledge;
    expect(hits[0]).toMatchObject({ url: `${site.url}/gateway`, title: 'Gateway' });
    expect(hits[0]!.snippet).toMatch(/«port»/i);
    expect(hits[0]!.snippet).toContain('7431');
    for (let i = 1; i < hits.length; i++) expect(hits[i]!.score).toBeLessThanOrEqual(hits[i - 1]!.score);
    expect(new Set(hits.map((h) => h.url)).size).toBe(hits.length);

    const retention = (await search('how long are snapshots retained?')).data!.searchKnowledge;
    expect(retention[0]!.url).toBe(`${site.url}/retention`);
    expect((await search('heron', 1)).data!.searchKnowledge.map((h) => h.url)).toEqual([`${site.url}/about`]);
  });

  it('returns an empty list when nothing matches', async () => {
    const { data, errors } = await search('zeppelin accordion');
    expect(errors).toBeUndefined();
    expect(data!.searchKnowledge).toEqual([]);
  });

  it.each([
    '"gateway',
    'gateway*',
    'NEAR(gateway port, 2)',
    'gateway AND NOT -port',
    'heading:gateway',
    '(gateway OR',
    'gateway) ^port {x}',
    '"*" : ( ) -',
  ])('treats query syntax as plain words: %s', async (query) => {
    const { data, errors } = await search(query);
    expect(errors).toBeUndefined();
    if (/gateway/.test(query)) expect(data!.searchKnowledge[0]?.url).toBe(`${site.url}/gateway`);
    else expect(data!.searchKnowledge).toEqual([]);
  });

  it.each([
    ['an empty query', '', undefined],
    ['a blank query', '   ', undefined],
    ['a query over 500 characters', 'port '.repeat(101), undefined],
    ['limit 0', 'port', 0],
    ['limit 51', 'port', 51],
    ['a negative limit', 'port', -1],
  ])('refuses %s with BAD_USER_INPUT', async (_, query, limit) => {
    const result = await search(query, limit);
    expect(codeOf(result)).toBe('BAD_USER_INPUT');
  });

  it('lists the crawled site as a source with its counts and last crawl', async () => {
    const [source, ...others] = await sources();
    expect(others).toEqual([]);
    expect(source).toMatchObject({ url: site.url, pages: 4, lastExecutionId: crawlId });
    expect(source!.chunks).toBeGreaterThanOrEqual(4);
    expect(source!.lastExecution).toEqual({ id: crawlId, kind: 'CRAWL', status: 'SUCCEEDED' });
    expect(Date.parse(source!.lastCrawledAt!)).toBeGreaterThan(0);
  });

  it('refuses to delete an unknown source with NOT_FOUND', async () => {
    expect(codeOf(await t.gql(DELETE, { id: 'no-such-source' }))).toBe('NOT_FOUND');
  });

  describe('deleting a source', () => {
    const deleting = suiteResources();
    let slow: Site;
    beforeAll(async () => {
      slow = await deleting.site({ pages: 60, delayMs: 150 });
    });

    it('cancels its running crawl first, then removes its pages from search', async () => {
      const started = await t.gql<{ startCrawl: { id: string } }>(START_CRAWL, { input: { url: slow.url, maxDepth: 5, maxPages: 60 } });
      const id = started.data!.startCrawl.id;
      const events = collect<EventPayload>(t.ws(), JOB_PROGRESS, { id }, 'jobProgress');
      await events.until((e) => e.type === 'PAGE');
      const source = (await sources()).find((s) => s.url === slow.url)!;
      expect(source.pages).toBeGreaterThan(0);

      const result = await t.gql<{ deleteKnowledgeSource: { deleted: boolean; cancelledExecutions: number } }>(DELETE, { id: source.id });
      expect(result.data!.deleteKnowledgeSource).toEqual({ deleted: true, cancelledExecutions: 1 });
      await events.done;
      const last = events.items.at(-1)!;
      expect(last).toMatchObject({ type: 'STATUS', status: 'CANCELLED' });
      const crawl = await t.app.store.getExecution(id);
      expect(crawl).toMatchObject({ status: 'CANCELLED', cancelReason: 'its knowledge source was deleted' });

      // Nothing of the deleted site comes back: its crawl's later writes were fenced off.
      expect((await sources()).map((s) => s.url)).toEqual([site.url]);
      const hits = (await search('sluice gate water channel')).data!.searchKnowledge;
      expect(hits.filter((h) => h.url.startsWith(slow.url))).toEqual([]);
      expect(codeOf(await t.gql(DELETE, { id: source.id }))).toBe('NOT_FOUND');
    });

    it('deletes an idle source with its pages and chunks', async () => {
      const [source] = await sources();
      const result = await t.gql<{ deleteKnowledgeSource: { deleted: boolean; cancelledExecutions: number } }>(DELETE, { id: source!.id });
      expect(result.data!.deleteKnowledgeSource).toEqual({ deleted: true, cancelledExecutions: 0 });
      expect(await sources()).toEqual([]);
      expect((await search('gateway port heron snapshots')).data!.searchKnowledge).toEqual([]);
    });
  });
});
