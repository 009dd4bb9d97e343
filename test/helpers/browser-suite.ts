// The set-up every browser suite shares: the client built from the tree, the app serving it and a
// headless Chromium, started once for the file and stopped after its last test by the suite's
// cleanup registry (test/helpers/suite-resources.ts); contexts and pages opened per test and closed
// by the per-test registry (test/helpers/cleanup.ts) after it.
import type { Browser, BrowserContext, BrowserContextOptions, Page } from 'playwright-core';
import { beforeAll } from 'vitest';
import { deferCleanup } from './cleanup.ts';
import type { TestApp, TestAppOptions } from './app.ts';
import { suiteResources, type SuiteResources } from './suite-resources.ts';
import { DESKTOP, launchBrowser } from './browser.ts';
import { ensureClientBuilt } from './build-client.ts';

export interface BrowserSuiteOptions {
  /**
   * The app's options (`clientDir` is added). A function is called in the suite's beforeAll, after
   * the client is built and before the app starts, so it can start what the app needs (a model
   * server, a site) through the suite's `resources`: closed after the app has stopped.
   */
  app?: TestAppOptions | ((resources: SuiteResources) => Promise<TestAppOptions>);
  /** The default timeout of the pages `newPage` opens, in ms. */
  pageTimeoutMs?: number;
}

export interface BrowserSuite {
  /** The app under test (started in beforeAll). */
  readonly server: TestApp;
  /** The Chromium (launched in beforeAll). */
  readonly browser: Browser;
  /** The suite's cleanup registry: what a suite's own beforeAll opens, closed before the browser and the app. */
  readonly resources: SuiteResources;
  /** A new browser context (DESKTOP unless told), closed after the current test. */
  newContext(options?: BrowserContextOptions): Promise<BrowserContext>;
  /** A page in a new context (DESKTOP unless told) with the suite's default timeout, closed after the current test. */
  newPage(options?: BrowserContextOptions): Promise<Page>;
}

/** Registers the suite's beforeAll/afterAll; call it at the top of a describe block. */
export function browserSuite(options: BrowserSuiteOptions = {}): BrowserSuite {
  let server: TestApp | undefined;
  let browser: Browser | undefined;
  const resources = suiteResources();

  beforeAll(async () => {
    const clientDir = await ensureClientBuilt();
    const app = typeof options.app === 'function' ? await options.app(resources) : (options.app ?? {});
    // The browser is closed first, then the app, then what the app option started.
    [server, browser] = await Promise.all([resources.app({ clientDir, ...app }), launchBrowser()]);
    resources.defer(() => browser?.close());
  }, 180_000);

  const suite: BrowserSuite = {
    get server() {
      if (!server) throw new Error('the browser suite has not started (use it inside a test)');
      return server;
    },
    get browser() {
      if (!browser) throw new Error('the browser suite has not started (use it inside a test)');
      return browser;
    },
    resources,
    async newContext(contextOptions = DESKTOP) {
      const context = await suite.browser.newContext(contextOptions);
      deferCleanup(() => context.close());
      return context;
    },
    async newPage(contextOptions = DESKTOP) {
      const page = await (await suite.newContext(contextOptions)).newPage();
      if (options.pageTimeoutMs !== undefined) page.setDefaultTimeout(options.pageTimeoutMs);
      return page;
    },
  };
  return suite;
}
