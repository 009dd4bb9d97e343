import { afterEach, describe, expect, it } from 'vitest';
import { PostgresStore } from '../../server/store/postgres/postgres-store.ts';
import { startTcpProxy, throughProxy, type TcpProxy } from '../chaos/pg-proxy.ts';
import { freshDatabase, TEST_POSTGRES_URL } from '../helpers/stores.ts';

// A connection that drops while the store holds it checked out (migrations at start-up) must come
// back as a rejected call, never as an 'error' event nobody listens to, which would end the process.

const disposers: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const dispose of disposers.splice(0).reverse()) await dispose();
});

describe('PostgreSQL connection dropped under the store', () => {
  it('during migrations: migrate rejects (or completes), the process lives, and a second migrate succeeds', async () => {
    const db = await freshDatabase();
    disposers.push(() => db.drop());
    const target = new URL(TEST_POSTGRES_URL);
    const proxy: TcpProxy = await startTcpProxy(target.hostname, Number(target.port || 5432));
    disposers.push(() => proxy.close());
    const store = new PostgresStore(throughProxy(db.url, proxy));
    disposers.push(() => store.close());

    // Drop the connection the moment the migration checks it out of the pool.
    let dropped = 0;
    store.pool.once('acquire', () => (dropped = proxy.dropAll()));
    await expect(store.migrate()).rejects.toThrow();
    expect(dropped).toBe(1);
    // Give the dropped client's late events a turn to surface (an unhandled 'error' fails the run).
    await new Promise((resolve) => setTimeout(resolve, 50));
    await store.migrate();
    await store.ping();
  });
});
