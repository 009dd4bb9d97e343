// bench:client — one browser tab open on /executions while 1,000 executions are started and
// finished (crawls of a one-page local site, through the API). Measured in Chromium through the
// DevTools protocol: the tab's JS heap after a forced collection (HeapProfiler.collectGarbage, then
// Runtime.getHeapUsage) and the time of a route change (a click on a nav link until the new view's
// heading is in the DOM, timed in the page). Baseline, in the same run: the same figures in the same
// tab before the 1,000 executions. Targets: heap ≤ 40 MB and a route change ≤ 100 ms after them.
// Then the same figures with --active crawls (default 200) active at once (crawls of a site that
// never answers, stopped after), each with its card on /executions: the cards in the DOM are those
// near the viewport (a virtual list), not one per active execution.
//
//   npm run bench:client [-- --executions=1000 --active=200]     (BENCH_PROFILE=1: also the top self-time functions of the route changes)
import type { CDPSession, Page } from 'playwright-core';
import { startSite } from '../test/fixtures/site.ts';
import { startTestApp, START_CRAWL } from '../test/helpers/app.ts';
import { hasChromium, launchBrowser, DESKTOP } from '../test/helpers/browser.ts';
import { ensureClientBuilt } from '../test/helpers/build-client.ts';
import { intOption, machine, mib, ms } from './lib.ts';

const EXECUTIONS = intOption('executions', 1000);
const ACTIVE = intOption('active', 200);
const HEAP_TARGET = 40 * 1024 * 1024;
const ROUTE_TARGET_MS = 100;
const BATCH = 50;

interface Figures {
  heapUsed: number;
  routeMs: number[];
  cards: number;
}

async function heapUsed(cdp: CDPSession): Promise<number> {
  await cdp.send('HeapProfiler.collectGarbage');
  const { usedSize } = await cdp.send('Runtime.getHeapUsage');
  return usedSize;
}

/** Clicks the nav link `label` and times it until the view's h1 `heading` is in the DOM. */
async function routeChange(page: Page, label: string, heading: string): Promise<number> {
  // A string, not a function: tsx would wrap named inner functions in a helper the page lacks.
  return page.evaluate(`new Promise((resolve) => {
    const link = [...document.querySelectorAll('nav a')].find((a) => a.textContent.trim() === ${JSON.stringify(label)});
    const start = performance.now();
    // Until the view's heading is in the DOM, then the next frame, so its layout and paint count.
    const check = () => {
      if ([...document.querySelectorAll('h1')].some((h) => h.textContent.trim() === ${JSON.stringify(heading)})) {
        requestAnimationFrame(() => resolve(performance.now() - start));
      } else requestAnimationFrame(check);
    };
    link.click();
    check();
  })`) as Promise<number>;
}

async function measure(page: Page, cdp: CDPSession): Promise<Figures> {
  const routeMs: number[] = [];
  for (let i = 0; i < 3; i++) {
    routeMs.push(await routeChange(page, 'Crawl', 'Crawl'));
    routeMs.push(await routeChange(page, 'Executions', 'Executions'));
  }
  const cards = await page.getByTestId('execution-card').count();
  return { heapUsed: await heapUsed(cdp), routeMs, cards };
}

async function main(): Promise<void> {
  if (!hasChromium) throw new Error('bench:client needs Chromium at /usr/bin/chromium');
  const clientDir = await ensureClientBuilt();
  const site = await startSite({ pages: 1 });
  // Its pages are answered after an hour: a crawl of it stays active until it is stopped.
  const silent = await startSite({ pages: 1, delayMs: 3_600_000 });
  const server = await startTestApp({ clientDir, startRateLimitPerMinute: 0, crawlTimeoutMs: 120_000 });
  const browser = await launchBrowser();
  try {
    const context = await browser.newContext(DESKTOP);
    const page = await context.newPage();
    const cdp = await context.newCDPSession(page);
    await page.goto(`${server.url}/executions`);
    await page.getByRole('heading', { name: 'Executions', level: 1 }).waitFor();

    const baseline = await measure(page, cdp);

    const started = Date.now();
    for (let done = 0; done < EXECUTIONS; done += BATCH) {
      const batch = Array.from({ length: Math.min(BATCH, EXECUTIONS - done) }, (_, i) =>
        server.gql<{ startCrawl: { id: string } }>(START_CRAWL, { input: { url: `${site.url}/?n=${done + i}`, maxDepth: 0 } }),
      );
      const answers = await Promise.all(batch);
      const failed = answers.find((answer) => !answer.data);
      if (failed) throw new Error(`startCrawl failed: ${JSON.stringify(failed.errors)}`);
    }
    // All of them ended on the server, then as the tab sees it, and the tab has applied the last
    // changes (its DOM has been still for a second).
    let active = 1;
    while (active > 0) {
      const answer = await server.gql<{ activeExecutions: unknown[] }>('{ activeExecutions { id } }');
      active = answer.data?.activeExecutions.length ?? 1;
      if (active > 0) await new Promise((resolve) => setTimeout(resolve, 250));
    }
    const elapsed = Date.now() - started;
    await page.getByRole('button', { name: '0 running' }).waitFor({ timeout: 600_000 });
    await page.evaluate(`new Promise((resolve) => {
      let timer = setTimeout(resolve, 1000);
      new MutationObserver(() => { clearTimeout(timer); timer = setTimeout(resolve, 1000); })
        .observe(document.body, { subtree: true, childList: true, characterData: true, attributes: true });
    })`);
    const after = await measure(page, cdp);
    if (process.env.BENCH_PROFILE) {
      await cdp.send('Profiler.enable');
      await cdp.send('Profiler.start');
      for (let i = 0; i < 3; i++) {
        await routeChange(page, 'Crawl', 'Crawl');
        await routeChange(page, 'Executions', 'Executions');
      }
      const { profile } = await cdp.send('Profiler.stop');
      const self = new Map<string, number>();
      const dt = profile.timeDeltas ?? [];
      const byId = new Map(profile.nodes.map((n) => [n.id, n]));
      (profile.samples ?? []).forEach((id, i) => {
        const n = byId.get(id)!;
        const key = `${n.callFrame.functionName || '(anon)'} ${n.callFrame.url.split('/').pop()}:${n.callFrame.lineNumber}`;
        self.set(key, (self.get(key) ?? 0) + (dt[i] ?? 0) / 1000);
      });
      console.log([...self].sort((a, b) => b[1] - a[1]).slice(0, 25).map(([k, v]) => `${v.toFixed(1)} ms  ${k}`).join('\n'));
    }

    // Many active at once: every one has a card on /executions.
    let activeFigures: Figures | null = null;
    if (ACTIVE > 0) {
      for (let done = 0; done < ACTIVE; done += BATCH) {
        const batch = Array.from({ length: Math.min(BATCH, ACTIVE - done) }, () =>
          server.gql<{ startCrawl: { id: string } }>(START_CRAWL, { input: { url: `${silent.url}/`, maxDepth: 0 } }),
        );
        const failed = (await Promise.all(batch)).find((answer) => !answer.data);
        if (failed) throw new Error(`startCrawl failed: ${JSON.stringify(failed.errors)}`);
      }
      await page
        .waitForFunction(`document.querySelector('#active-title + .count')?.textContent.trim() === ${JSON.stringify(String(ACTIVE))}`, undefined, { timeout: 120_000 })
        .catch(async (error: unknown) => {
          const shown = await page.evaluate(`document.querySelector('#active-title + .count')?.textContent`);
          const onServer = await server.gql<{ activeExecutions: { status: string }[] }>('{ activeExecutions { status } }');
          const statuses = (onServer.data?.activeExecutions ?? []).map((e) => e.status);
          throw new Error(`the tab shows ${String(shown)} active, the server has ${statuses.length} (${[...new Set(statuses)].join(', ')})`, { cause: error });
        });
      await page.evaluate(`new Promise((resolve) => {
        let timer = setTimeout(resolve, 1000);
        new MutationObserver(() => { clearTimeout(timer); timer = setTimeout(resolve, 1000); })
          .observe(document.body, { subtree: true, childList: true, characterData: true, attributes: true });
      })`);
      activeFigures = await measure(page, cdp);
      await server.gql('mutation { cancelExecutions(kind: CRAWL) { cancelled } }');
    }

    const worst = (figures: Figures) => Math.max(...figures.routeMs);
    const median = (figures: Figures) => [...figures.routeMs].sort((a, b) => a - b)[Math.floor(figures.routeMs.length / 2)]!;
    console.log(`bench:client — ${machine()}`);
    console.log(`${EXECUTIONS} crawls started and finished in ${ms(elapsed)} while the tab watched`);
    console.log('');
    console.log('                         JS heap    route change (median / worst of 6)   cards on /executions');
    console.log(`baseline (before)     ${mib(baseline.heapUsed).padStart(10)}    ${ms(median(baseline)).padStart(8)} / ${ms(worst(baseline)).padStart(8)}               ${baseline.cards}`);
    console.log(`after ${EXECUTIONS} executions ${mib(after.heapUsed).padStart(10)}    ${ms(median(after)).padStart(8)} / ${ms(worst(after)).padStart(8)}               ${after.cards}`);
    if (activeFigures) {
      console.log(`with ${ACTIVE} active        ${mib(activeFigures.heapUsed).padStart(10)}    ${ms(median(activeFigures)).padStart(8)} / ${ms(worst(activeFigures)).padStart(8)}               ${activeFigures.cards} (of ${ACTIVE})`);
    }
    console.log('');
    const heapOk = after.heapUsed <= HEAP_TARGET;
    const routeOk = worst(after) <= ROUTE_TARGET_MS;
    console.log(`target: heap ≤ ${mib(HEAP_TARGET)}: ${heapOk ? 'met' : 'MISSED'}; route change ≤ ${ROUTE_TARGET_MS} ms: ${routeOk ? 'met' : 'MISSED'}`);
    if (activeFigures) {
      const met = (ok: boolean) => (ok ? 'met' : 'MISSED');
      console.log(`with ${ACTIVE} active: heap ≤ ${mib(HEAP_TARGET)}: ${met(activeFigures.heapUsed <= HEAP_TARGET)}; route change ≤ ${ROUTE_TARGET_MS} ms: ${met(worst(activeFigures) <= ROUTE_TARGET_MS)}`);
    }
    await context.close();
  } finally {
    await browser.close();
    await server.stop();
    await site.close();
    await silent.close();
  }
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    console.error(error);
    process.exit(1);
  },
);
