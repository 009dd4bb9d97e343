import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { PostgresStore } from '../../server/store/postgres/postgres-store.ts';
import { SqliteStore } from '../../server/store/sqlite/sqlite-store.ts';
import type { Store } from '../../server/store/store.ts';

/** A store under test and how to dispose of it. */
export interface StoreFixture {
  name: string;
  open(): Promise<{ store: Store; dispose(): Promise<void> }>;
}

/** A fresh folder under the OS temp dir, removed by the returned function. */
export function tempDir(prefix = 'sluice-test-'): { path: string; remove(): void } {
  const path = mkdtempSync(join(tmpdir(), prefix));
  return { path, remove: () => rmSync(path, { recursive: true, force: true }) };
}

export const sqliteFixture: StoreFixture = {
  name: 'sqlite',
  async open() {
    const dir = tempDir();
    const store = new SqliteStore(join(dir.path, 'sluice.db'));
    return {
      store,
      async dispose() {
        await store.close();
        dir.remove();
      },
    };
  },
};

/** The server the PostgreSQL tests use; each test gets a database of its own on it. */
export const TEST_POSTGRES_URL = process.env.SLUICE_TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

/**
 * A fresh, empty database (sluice_t_<random>) created through a connection to the test database, so
 * test files running in parallel never share state; `drop` removes it (closing what still uses it).
 */
export async function freshDatabase(): Promise<{ url: string; drop(): Promise<void> }> {
  const name = `sluice_t_${randomUUID().replaceAll('-', '').slice(0, 16)}`;
  await adminQuery(`CREATE DATABASE ${name}`);
  const url = new URL(TEST_POSTGRES_URL);
  url.pathname = `/${name}`;
  return { url: url.toString(), drop: () => adminQuery(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`) };
}

async function adminQuery(sql: string): Promise<void> {
  const client = new pg.Client({ connectionString: TEST_POSTGRES_URL });
  await client.connect();
  try {
    await client.query(sql);
  } finally {
    await client.end();
  }
}

export const postgresFixture: StoreFixture = {
  name: 'postgres',
  async open() {
    const db = await freshDatabase();
    const store = new PostgresStore(db.url, { maxConnections: 5 });
    await store.migrate();
    return {
      store,
      async dispose() {
        await store.close();
        await db.drop();
      },
    };
  },
};

/** Every store implementation the conformance suite runs against. */
export const storeFixtures: StoreFixture[] = [sqliteFixture, postgresFixture];
