// sluice_self_fenced_total counts the executions whose code a node stopped itself because it could
// not confirm their lease in time (see "What Stop promises" in the README): an operator's sign that
// a node is losing touch with its database. The app is cut off from its store while its crawl waits
// on a held robots.txt; its /metrics says so once the store is back.
import { describe, expect, it } from 'vitest';
import { START_CRAWL, startTestApp } from '../helpers/app.ts';
import { appStores } from '../helpers/app-stores.ts';
import { deferCleanup } from '../helpers/cleanup.ts';
import { heldRobotsSite } from '../helpers/held-robots-site.ts';
import { cutOff } from '../helpers/store-faults.ts';

// The fence falls at min(grace, lease) - heartbeat / 2 = 1.9 s of silence: far beyond a stall of a
// loaded machine, so the one fence counted is the one this test forces.
const TIMING = { cancelGraceMs: 2000, leaseMs: 2000, heartbeatMs: 200, progressIntervalMs: 30 };

async function selfFenced(url: string): Promise<number | null> {
  const text = await (await fetch(`${url}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith('sluice_self_fenced_total '));
  return line ? Number(line.split(' ')[1]) : null;
}

describe.each(appStores)('sluice_self_fenced_total ($name)', ({ config }) => {
  it('counts the crawl a node stopped itself when its lease went unconfirmed', async () => {
    const site = await heldRobotsSite();
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
