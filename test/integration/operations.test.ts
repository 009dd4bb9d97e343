import { describe, expect, it } from 'vitest';
import type { Site } from '../fixtures/site.ts';
import { siteForTest } from '../helpers/cleanup.ts';
import { CANCEL, collect, JOB_PROGRESS, START_CRAWL, appForTest, type EventPayload, type TestApp } from '../helpers/app.ts';

let app: TestApp | undefined;
let site: Site | undefined;

/** The value of one sample of /metrics, e.g. sample(text, 'sluice_pages_total{outcome="fetched"}'). */
function sample(text: string, name: string): number {
  const line = text.split('\n').find((l) => l.startsWith(`${name} `));
  return line ? Number(line.slice(name.length + 1)) : NaN;
}

describe('operations endpoints', () => {
  it('/health and /ready answer 200 once the database answers', async () => {
    app = await appForTest();
    for (const path of ['/health', '/ready']) {
      const res = await fetch(`${app.url}${path}`);
      expect(res.status).toBe(200);
      expect(await res.json()).toEqual({ status: 'ok' });
    }
  });

  it('/metrics counts executions, pages, events, cancels and live subscriptions', async () => {
    site = await siteForTest({ pages: 4, routes: { '/slow': { headers: { 'content-type': 'text/html' }, body: '<p>slow</p>', delayMs: 60_000 } } });
    app = await appForTest();
    const done = (await app.gql(START_CRAWL, { input: { url: site.url } })).data!.startCrawl.id;
    await collect<EventPayload>(app.ws(), JOB_PROGRESS, { id: done }, 'jobProgress').done;

    const slow = (await app.gql(START_CRAWL, { input: { url: `${site.url}/slow` } })).data!.startCrawl.id;
    const watcher = collect<EventPayload>(app.ws(), JOB_PROGRESS, { id: slow }, 'jobProgress');
    await site.waitFor(() => site!.inFlight() > 0);
    await watcher.until((e) => e.status === 'RUNNING'); // the subscription is live
    let text = await (await fetch(`${app.url}/metrics`)).text();
    expect(sample(text, 'sluice_subscriptions_live{field="jobProgress"}')).toBe(1);
    expect(sample(text, 'sluice_executions_active{status="RUNNING"}')).toBe(1);
    await app.gql(CANCEL, { id: slow });
    await watcher.done;

    const res = await fetch(`${app.url}/metrics`);
    expect(res.headers.get('content-type')).toMatch(/^text\/plain/);
    text = await res.text();
    expect(sample(text, 'sluice_executions_started_total{kind="CRAWL"}')).toBe(2);
    expect(sample(text, 'sluice_executions_finished_total{kind="CRAWL",status="SUCCEEDED"}')).toBe(1);
    expect(sample(text, 'sluice_executions_finished_total{kind="CRAWL",status="CANCELLED"}')).toBe(1);
    expect(sample(text, 'sluice_pages_total{outcome="fetched"}')).toBe(4);
    expect(sample(text, 'sluice_cancel_latency_seconds_count')).toBe(1);
    expect(sample(text, 'sluice_events_published_total{type="PAGE"}')).toBe(4);
    expect(sample(text, 'sluice_subscriptions_live{field="jobProgress"}')).toBe(0);
    expect(sample(text, 'sluice_executions_active{status="RUNNING"}')).toBe(0);
    expect(text).toMatch(/sluice_graphql_operation_duration_seconds_count\{operation="mutation",field="startCrawl"\} 2/);
    expect(text).toMatch(/sluice_http_request_duration_seconds_count\{method="POST",route="\/graphql",status="200"\}/);
  });
});
