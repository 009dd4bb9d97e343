import type { GraphiQLOptions } from 'graphql-yoga';

/**
 * What GraphiQL opens on: the README's walkthrough as four operations to run one after the other
 * (the ▶ button asks which). GraphiQL keeps a visitor's own tabs after the first visit.
 */
export const GRAPHIQL_EXAMPLE = `# Welcome to Sluice. Run these in order with the ▶ button (it asks which operation).
# Crawling a site on this machine or a private network needs SLUICE_ALLOW_PRIVATE_NETWORKS=true.

# 1. Start a crawl: only url is required. Copy the id it answers into the Variables pane below.
mutation StartCrawl {
  startCrawl(input: { url: "https://example.com/", maxPages: 20, maxDepth: 1 }) {
    id
    status
    title
  }
}

# 2. Watch it live: replays its event log, then streams until the crawl ends.
subscription WatchCrawl($id: ID!) {
  jobProgress(executionId: $id) {
    seq
    type
    status
    message
    progress { stage percent pagesFetched pagesFailed chunksStored }
  }
}

# 3. What is running now (executionChanged is the live form of this list).
query ActiveExecutions {
  activeExecutions { id kind status title progress { percent pagesFetched } node }
}

# 4. Stop it: accepted is true with CANCELLING or CANCELLED; false when it had already ended.
mutation CancelCrawl($id: ID!) {
  cancelExecution(id: $id, reason: "stopped from GraphiQL") {
    accepted
    execution { status cancelReason progress { pagesFetched chunksStored } }
  }
}
`;

/** GraphiQL's settings: subscriptions over WebSocket when the API is open, else over SSE with the token header. */
export function graphiqlOptions(open: boolean): GraphiQLOptions {
  const common = { title: 'Sluice GraphiQL', defaultQuery: GRAPHIQL_EXAMPLE };
  // With tokens, GraphiQL sends subscriptions over SSE: its headers tab (Authorization) applies to
  // them too, which graphql-ws connectionParams cannot take from there.
  return open
    ? { ...common, subscriptionsProtocol: 'WS' }
    : { ...common, subscriptionsProtocol: 'SSE', headers: JSON.stringify({ Authorization: 'Bearer <your token>' }) };
}

/**
 * Yoga's renderGraphiQL, loaded on the first GraphiQL page view: the package holds GraphiQL's whole
 * 9 MB bundle as JavaScript strings, about 45 MB of memory that a server nobody browses never needs.
 */
export async function renderGraphiQL(options: GraphiQLOptions): Promise<string> {
  const { renderGraphiQL: render } = await import('@graphql-yoga/render-graphiql');
  return render(options);
}
