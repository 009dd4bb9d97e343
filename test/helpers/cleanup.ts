// The shared cleanup registry: what a test opens is closed after it, in reverse order of opening,
// without an afterEach or a try/finally of its own. What a suite builds once in beforeAll goes to a
// suite's registry instead (suiteResources in test/helpers/suite-resources.ts), run in its afterAll.
import { afterEach, TestRunner } from 'vitest';
import { startSite, type Site, type SiteOptions } from '../fixtures/site.ts';
import type { Store } from '../../server/store/store.ts';
import type { StoreFixture } from './stores.ts';

/** Cleanups run in reverse order of registration; every one runs even when one before it fails. */
export class CleanupList {
  private cleanups: (() => unknown)[] = [];

  defer(cleanup: () => unknown): void {
    this.cleanups.push(cleanup);
  }

  /** Runs and forgets every cleanup; throws the first failure (all of them when several failed). */
  async run(): Promise<void> {
    const pending = this.cleanups.reverse();
    this.cleanups = [];
    const failures: unknown[] = [];
    for (const cleanup of pending) {
      try {
        await cleanup();
      } catch (error) {
        failures.push(error);
      }
    }
    if (failures.length === 1) throw failures[0];
    if (failures.length > 1) throw new AggregateError(failures, `${failures.length} cleanups failed`);
  }
}

const afterThisTest = new CleanupList();

// One afterEach for every test file that imports this module.
// Only under vitest: the benchmarks import the test helpers too, and run them without a test runner.
if (process.env.VITEST) afterEach(() => afterThisTest.run());

/** Runs `cleanup` after the current test, after everything set up later has been undone. */
export function deferCleanup(cleanup: () => unknown): void {
  // In a beforeAll it would run after the suite's first test, under the feet of the others.
  if (process.env.VITEST && !TestRunner.getCurrentTest()) {
    throw new Error('deferCleanup runs after the current test; for what a beforeAll builds, use suiteResources() (test/helpers/suite-resources.ts)');
  }
  afterThisTest.defer(cleanup);
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
