import type { Config } from '../../server/config.ts';
import { deferCleanup } from './cleanup.ts';
import { freshDatabase, tempDir } from './stores.ts';

/**
 * The two stores an app can run on, as the config overrides that select each. What they make is
 * removed by `defer`: after the current test by default, or after a suite with its resources' defer.
 */
export const appStores: { name: 'sqlite' | 'postgres'; config(defer?: (cleanup: () => unknown) => void): Promise<Partial<Config>> }[] = [
  {
    name: 'sqlite',
    async config(defer = deferCleanup) {
      const dir = tempDir();
      defer(() => dir.remove());
      return { dataDir: dir.path };
    },
  },
  {
    name: 'postgres',
    async config(defer = deferCleanup) {
      const db = await freshDatabase();
      defer(() => db.drop());
      return { databaseUrl: db.url };
    },
  },
];
