// The cleanup registry of a suite: what its beforeAll builds once (an app, a site, a model server)
// is closed in its afterAll, in reverse order of set-up, as deferCleanup does for one test.
import { afterAll } from 'vitest';
import { startSite, type Site, type SiteOptions } from '../fixtures/site.ts';
import { startTestApp, type TestApp, type TestAppOptions } from './app.ts';
import { CleanupList } from './cleanup.ts';

export interface SuiteResources {
  /** Runs `cleanup` after the suite's last test, after everything the suite set up later has been undone. */
  defer(cleanup: () => unknown): void;
  /** A local test site, closed after the suite. */
  site(options: SiteOptions): Promise<Site>;
  /** The app in-process on port 0 (startTestApp), stopped and its data folder removed after the suite. */
  app(options?: TestAppOptions): Promise<TestApp>;
}

/**
 * Registers an afterAll in the file or describe block it is called in (call it where you would call
 * beforeAll) and returns the registry that afterAll empties.
 */
export function suiteResources(): SuiteResources {
  const cleanups = new CleanupList();
  afterAll(() => cleanups.run());
  const resources: SuiteResources = {
    defer: (cleanup) => cleanups.defer(cleanup),
    async site(options) {
      const site = await startSite(options);
      resources.defer(() => site.close());
      return site;
    },
    async app(options) {
      const app = await startTestApp(options);
      resources.defer(() => app.stop());
      return app;
    },
  };
  return resources;
}
