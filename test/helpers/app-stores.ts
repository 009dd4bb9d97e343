import type { Config } from '../../server/config.ts';
import { deferCleanup } from './cleanup.ts';
import { freshDatabase, tempDir } from './stores.ts';

/** The two stores an app can run on, as the config overrides that select each; what they make is removed after the test. */
export const appStores: { name: string; config(): Promise<Partial<Config>> }[] = [
  {
    name: 'sqlite',
    async config() {
      const dir = tempDir();
      deferCleanup(() => dir.remove());
      return { dataDir: dir.path };
    },
  },
  {
    name: 'postgres',
    async config() {
      const db = await freshDatabase();
      deferCleanup(() => db.drop());
      return { databaseUrl: db.url };
    },
  },
];
