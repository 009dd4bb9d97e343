// A node of a cluster starts even if the database fails the start-up recovery of orphans (it is
// retried on every heartbeat): the call fails on purpose, once, through a store wrapper.
import { expect, it } from 'vitest';
import { StoreUnavailableError } from '../../server/executions/types.ts';
import type { Store } from '../../server/store/store.ts';
import { appForTest, START_CRAWL, EXECUTION } from '../helpers/app.ts';
import { deferCleanup, siteForTest } from '../helpers/cleanup.ts';
import { freshDatabase } from '../helpers/stores.ts';

function listOrphansFailsOnce(store: Store): Store {
  let failed = false;
  return new Proxy(store, {
    get(target, key, receiver) {
      if (key !== 'listOrphans' || failed) return Reflect.get(target, key, receiver);
      return async () => {
        failed = true;
        throw new StoreUnavailableError(new Error('test: the database is away at start-up'));
      };
    },
  });
}

it('PostgreSQL: a start-up orphan recovery that fails on an unreachable database does not stop the node starting; it then runs work', async () => {
  const db = await freshDatabase();
  deferCleanup(() => db.drop());
  const site = await siteForTest({ pages: 2 });
  const app = await appForTest({ databaseUrl: db.url, wrapStore: listOrphansFailsOnce });
  const started = await app.gql(START_CRAWL, { input: { url: site.url, maxPages: 2 } });
  const id = started.data!.startCrawl.id as string;
  let row: Record<string, any> = {};
  while (row.status !== 'SUCCEEDED' && row.status !== 'FAILED') {
    row = (await app.gql(EXECUTION, { id })).data!.execution;
    if (row.status !== 'SUCCEEDED' && row.status !== 'FAILED') await new Promise((resolve) => setTimeout(resolve, 10));
  }
  expect(row.status).toBe('SUCCEEDED');
});
