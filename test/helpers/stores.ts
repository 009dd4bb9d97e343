import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
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

/** Every store implementation the conformance suite runs against. */
export const storeFixtures: StoreFixture[] = [sqliteFixture];
