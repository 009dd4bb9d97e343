import { collect, JOB_PROGRESS, START_CRAWL, type EventPayload, type TestApp } from './app.ts';

/** Crawls `url` and resolves with the crawl's id once it has ended; throws unless it SUCCEEDED. */
export async function crawlToEnd(t: TestApp, url: string, extra: Record<string, unknown> = {}): Promise<string> {
  const started = await t.gql<{ startCrawl: { id: string } }>(START_CRAWL, { input: { url, maxDepth: 2, ...extra } });
  if (!started.data) throw new Error(`startCrawl failed: ${JSON.stringify(started.errors)}`);
  const id = started.data.startCrawl.id;
  const events = collect<EventPayload>(t.ws(), JOB_PROGRESS, { id }, 'jobProgress');
  await events.done;
  const last = events.items.at(-1);
  if (last?.status !== 'SUCCEEDED') throw new Error(`crawl ended ${last?.status}: ${last?.message}`);
  return id;
}

/** The extensions.code of the first error of a result. */
export const codeOf = (result: { errors?: { extensions?: { code?: string } }[] }): string | undefined =>
  result.errors?.[0]?.extensions?.code;
