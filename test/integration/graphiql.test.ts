import { parse, validate } from 'graphql';
import { describe, expect, it } from 'vitest';
import { GRAPHIQL_EXAMPLE } from '../../server/http/graphiql.ts';
import { schema } from '../../server/schema/index.ts';
import { startTestApp } from '../helpers/app.ts';
import { deferCleanup } from '../helpers/cleanup.ts';

describe('GraphiQL', () => {
  it('opens on the Sluice example: start a crawl, watch it, list what is active, cancel', async () => {
    const app = await startTestApp();
    deferCleanup(() => app.stop());
    const res = await fetch(`${app.url}/graphql`, { headers: { accept: 'text/html' } });
    expect(res.status).toBe(200);
    const html = await res.text();
    expect(html.includes('<title>Sluice GraphiQL</title>')).toBe(true); // (not toContain: a failure would print 9 MB)
    // The options are embedded as JSON in the page: the example is its defaultQuery, in place of
    // GraphiQL's own welcome text.
    const options = /renderYogaGraphiQL\(\s*window\.document\.querySelector\('#root'\),\s*(\{.*\}),\s*\)/s.exec(html);
    expect(options).not.toBeNull();
    expect(JSON.parse(options![1]!).defaultQuery).toBe(GRAPHIQL_EXAMPLE);

    const document = parse(GRAPHIQL_EXAMPLE);
    expect(validate(schema, document)).toEqual([]);
    const operations = document.definitions.map((d) => (d.kind === 'OperationDefinition' ? [d.operation, d.name?.value] : null));
    expect(operations).toEqual([
      ['mutation', 'StartCrawl'],
      ['subscription', 'WatchCrawl'],
      ['query', 'ActiveExecutions'],
      ['mutation', 'CancelCrawl'],
    ]);
  });
});
