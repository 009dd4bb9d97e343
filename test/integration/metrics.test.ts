import { describe, expect, it } from 'vitest';
import { startTestApp } from '../helpers/app.ts';
import { deferCleanup } from '../helpers/cleanup.ts';
import { freshDatabase } from '../helpers/stores.ts';
import packageJson from '../../package.json' with { type: 'json' };

/** Records unhandled rejections while the test runs (a failed scrape must not make one). */
function watchRejections(): unknown[] {
  const seen: unknown[] = [];
  const listener = (reason: unknown) => seen.push(reason);
  process.on('unhandledRejection', listener);
  deferCleanup(() => process.off('unhandledRejection', listener));
  return seen;
}

describe('/metrics', () => {
  it("has prom-client's process and Node metrics under their standard names, and sluice_build_info", async () => {
    const app = await startTestApp();
    deferCleanup(() => app.stop());
    const text = await (await fetch(`${app.url}/metrics`)).text();
    for (const name of ['process_cpu_user_seconds_total', 'process_resident_memory_bytes', 'nodejs_eventloop_lag_seconds', 'nodejs_heap_size_used_bytes']) {
      expect(text).toMatch(new RegExp(`^${name} `, 'm'));
    }
    expect(text).not.toMatch(/sluice_process_/);
    const info = /^sluice_build_info\{version="([^"]+)",node="([^"]+)",commit="([^"]+)"\} 1$/m.exec(text);
    expect(info?.slice(1, 3)).toEqual([packageJson.version, process.version]);
    expect(text).toMatch(/^sluice_http_requests_in_flight 1$/m); // the scrape itself
  });

  it('a scrape whose collector fails (SQLite store closed) answers 500, and the server keeps answering', async () => {
    const rejections = watchRejections();
    const app = await startTestApp();
    deferCleanup(() => app.stop());
    await app.app.store.close();
    const res = await fetch(`${app.url}/metrics`);
    expect(res.status).toBe(500);
    expect(await res.text()).toMatch(/^metrics could not be collected: /);
    expect((await fetch(`${app.url}/livez`)).status).toBe(200);
    expect(rejections).toEqual([]);
  });

  it('a scrape while the PostgreSQL database is gone answers 500, and the server keeps answering', async () => {
    const rejections = watchRejections();
    const db = await freshDatabase();
    deferCleanup(() => db.drop());
    const app = await startTestApp({ databaseUrl: db.url });
    deferCleanup(() => app.stop());
    expect((await fetch(`${app.url}/metrics`)).status).toBe(200);
    await db.drop();
    expect((await fetch(`${app.url}/metrics`)).status).toBe(500);
    expect((await fetch(`${app.url}/readyz`)).status).toBe(503);
    expect((await fetch(`${app.url}/livez`)).status).toBe(200);
    expect(rejections).toEqual([]);
  });
});
