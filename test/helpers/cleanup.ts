import { afterEach } from 'vitest';
import { startSite, type Site, type SiteOptions } from '../fixtures/site.ts';
import type { Store } from '../../server/store/store.ts';
import type { StoreFixture } from './stores.ts';

let cleanups: (() => unknown)[] = [];

// One afterEach for every test file that imports this module: undo in reverse order of set-up.
// Only under vitest: the benchmarks import the test helpers too, and run them without a test runner.
if (process.env.VITEST) {
  afterEach(async () => {
    const pending = cleanups.reverse();
    cleanups = [];
    for (const cleanup of pending) await cleanup();
  });
}

/** Runs `cleanup` after the current test, after everything set up later has been undone. */
export function deferCleanup(cleanup: () => unknown): void {
  cleanups.push(cleanup);
}

/** A local test site, closed after the current test. */
export async function siteForTest(options: SiteOptions): Promise<Site> {
  const site = await startSite(options);
  deferCleanup(() => site.close());
  return site;
}

/** A store of the fixture's kind, migrated, and disposed of after the current test. */
export async function storeForTest(fixture: StoreFixture): Promise<Store> {
  const { store, dispose } = await fixture.open();
  deferCleanup(dispose);
  await store.migrate();
  return store;
}
