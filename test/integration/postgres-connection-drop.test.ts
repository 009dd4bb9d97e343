import { describe, expect, it } from 'vitest';
import { StoreUnavailableError } from '../../server/executions/types.ts';
import { PostgresStore } from '../../server/store/postgres/postgres-store.ts';
import { startTcpProxy, throughProxy, type TcpProxy } from '../fixtures/tcp-proxy.ts';
import { deferCleanup } from '../helpers/cleanup.ts';
import { freshDatabase, TEST_POSTGRES_URL } from '../helpers/stores.ts';

// A connection that drops while the store holds it checked out (migrations at start-up) must never
// come back as an 'error' event nobody listens to, which would end the process. The migrations try
// again on a fresh connection, with back-off, and give up with a message that says so.

async function proxiedStore(options: ConstructorParameters<typeof PostgresStore>[1] = {}): Promise<{ store: PostgresStore; proxy: TcpProxy; url: string }> {
  const db = await freshDatabase();
  deferCleanup(() => db.drop());
  const target = new URL(TEST_POSTGRES_URL);
  const proxy = await startTcpProxy(target.hostname, Number(target.port || 5432));
  deferCleanup(() => proxy.close());
  const store = new PostgresStore(throughProxy(db.url, proxy), options);
  deferCleanup(() => store.close());
  return { store, proxy, url: db.url };
}

async function appliedVersions(url: string): Promise<number> {
  const check = new PostgresStore(url);
  try {
    const { rows } = await check.pool.query<{ n: number }>('SELECT count(*)::int AS n FROM schema_migrations');
    return rows[0]!.n;
  } finally {
    await check.close();
  }
}

describe('PostgreSQL connection dropped under the store', () => {
  it('during migrations: migrate tries again on a fresh connection and succeeds, and the process lives', async () => {
    const retries: { tried: number; delayMs: number }[] = [];
    const { store, proxy, url } = await proxiedStore({ onMigrateRetry: (_error, tried, delayMs) => void retries.push({ tried, delayMs }) });

    // Drop the connection the moment the migration checks it out of the pool, twice.
    const dropped: number[] = [];
    store.pool.on('acquire', () => {
      if (dropped.length < 2) dropped.push(proxy.dropAll());
    });
    await store.migrate();

    expect(dropped).toEqual([1, 1]);
    expect(retries.map((r) => r.tried)).toEqual([1, 2]);
    // Back-off: each wait longer than the one before.
    expect(retries[1]!.delayMs).toBeGreaterThan(retries[0]!.delayMs);
    await store.ping();
    expect(await appliedVersions(url)).toBeGreaterThan(0);
    await store.migrate(); // nothing left to do
  });

  it('gives up after its tries with an error that says so, and a later migrate succeeds', async () => {
    const retries: number[] = [];
    const { store, proxy } = await proxiedStore({ migrateTries: 3, onMigrateRetry: (_error, tried) => void retries.push(tried) });
    const drop = (): void => void proxy.dropAll();
    store.pool.on('acquire', drop);

    const failure = await store.migrate().then(
      () => null,
      (error: unknown) => error,
    );
    expect(failure).toBeInstanceOf(StoreUnavailableError);
    expect((failure as Error).message).toMatch(/migrations gave up after 3 tries, each losing its connection/);
    expect(retries).toEqual([1, 2]);
    // Give the dropped clients' late events a turn to surface (an unhandled 'error' fails the run).
    await new Promise((resolve) => setTimeout(resolve, 50));

    store.pool.off('acquire', drop);
    await store.migrate();
    await store.ping();
  });

  it('SQL the database refuses is not retried', async () => {
    const retries: number[] = [];
    const { store } = await proxiedStore({ onMigrateRetry: (_error, tried) => void retries.push(tried) });
    // Another session holds the migration tables' name as something else: the CREATE fails as SQL.
    await store.pool.query('CREATE VIEW schema_migrations AS SELECT 1 AS version');
    await expect(store.migrate()).rejects.toThrow();
    expect(retries).toEqual([]);
  });
});
