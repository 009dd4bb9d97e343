// sluice_self_fenced_total counts the executions whose code a node stopped itself because it could
// not confirm their lease in time (see "What Stop promises" in the README): an operator's sign that
// a node is losing touch with its database. The app is cut off from its store while its crawl waits
// on a held robots.txt; its /metrics says so once the store is back.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, expect, it } from 'vitest';
import { StoreUnavailableError } from '../../server/executions/types.ts';
import type { Store } from '../../server/store/store.ts';
import { START_CRAWL, startTestApp } from '../helpers/app.ts';
import { appStores } from '../helpers/app-stores.ts';
import { deferCleanup } from '../helpers/cleanup.ts';

// The fence falls at min(grace, lease) - heartbeat / 2 = 1.9 s of silence: far beyond a stall of a
// loaded machine, so the one fence counted is the one this test forces.
const TIMING = { cancelGraceMs: 2000, leaseMs: 2000, heartbeatMs: 200, progressIntervalMs: 30 };

/** A site whose /robots.txt is held until the test answers it; its abandonment (the crawl's abort) is awaited. */
async function heldSite() {
  let asked!: () => void;
  const robotsAsked = new Promise<void>((resolve) => (asked = resolve));
  let abandoned!: () => void;
  const robotsAbandoned = new Promise<void>((resolve) => (abandoned = resolve));
  let answer!: () => void;
  const answered = new Promise<void>((resolve) => (answer = resolve));
  const server = http.createServer((req, res) => {
    if (req.url === '/robots.txt') {
      asked();
      res.on('close', () => {
        if (!res.writableFinished) abandoned();
      });
      void answered.then(() => {
        if (!res.destroyed) res.end('User-agent: *\nAllow: /\n');
      });
      return;
    }
    res.setHeader('content-type', 'text/html');
    res.end(`<html><body><h1>${req.url}</h1><p>text</p></body></html>`);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  deferCleanup(async () => {
    answer();
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  });
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/`, robotsAsked, robotsAbandoned, answer };
}

/** `store` with every call failing while `down()` is true. */
function cutOff(store: Store, down: () => boolean): Store {
  return new Proxy(store, {
    get(target, key, receiver) {
      const value = Reflect.get(target, key, receiver);
      if (typeof value !== 'function' || key === 'close' || key === 'migrate') return value;
      return (...args: unknown[]) => (down() ? Promise.reject(new StoreUnavailableError(new Error('cut off'))) : value.apply(target, args));
    },
  });
}

async function selfFenced(url: string): Promise<number | null> {
  const text = await (await fetch(`${url}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith('sluice_self_fenced_total '));
  return line ? Number(line.split(' ')[1]) : null;
}

describe.each(appStores)('sluice_self_fenced_total ($name)', ({ config }) => {
  it('counts the crawl a node stopped itself when its lease went unconfirmed', async () => {
    const site = await heldSite();
    let down = false;
    const t = await startTestApp({ ...(await config()), ...TIMING, wrapStore: (store) => cutOff(store, () => down) });
    deferCleanup(() => t.stop({ remove: false }));
    expect(await selfFenced(t.url)).toBe(0);

    const res = await t.gql(START_CRAWL, { input: { url: site.url, maxPages: 2, maxDepth: 1 } });
    expect(res.errors).toBeUndefined();
    await site.robotsAsked;
    down = true;
    // The node stops the crawl itself (the held request is given up) once its lease went unconfirmed.
    await site.robotsAbandoned;
    down = false;
    expect(await selfFenced(t.url)).toBe(1);
  });
});
