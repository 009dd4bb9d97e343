import type { ServerResponse } from 'node:http';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { getOperationAST, Kind } from 'graphql';
import type { Plugin } from 'graphql-yoga';
import type { Logger } from 'pino';
import packageJson from '../../package.json' with { type: 'json' };
import { ACTIVE_STATUSES, isTerminal } from '../executions/status.ts';
import type { Execution, ExecutionEvent, Change } from '../executions/types.ts';
import type { EngineObserver } from '../engine/engine.ts';
import type { Store } from '../store/store.ts';
import { secondsSince } from '../lib/timing.ts';

/**
 * The Prometheus metrics of one app (its own registry, so several apps in one process — tests,
 * benchmarks — do not collide). The engine reports to it through the EngineObserver methods.
 */
export class Metrics implements EngineObserver {
  readonly registry = new Registry();
  private readonly started: Counter<'kind'>;
  private readonly finished: Counter<'kind' | 'status'>;
  private readonly cancelLatency: Histogram;
  private readonly graceExceeded: Counter;
  private readonly selfFenced: Counter;
  private readonly unhandledRejections: Counter;
  private readonly recovered: Counter<'outcome'>;
  private readonly events: Counter<'type'>;
  private readonly pages: Counter<'outcome'>;
  private readonly subscriptions: Gauge<'field'>;
  private readonly renders: Counter<'field'>;
  private readonly slowSubscribers: Counter<'outcome'>;
  readonly httpDuration: Histogram<'method' | 'route' | 'status'>;
  readonly graphqlDuration: Histogram<'operation' | 'field'>;
  private readonly cancelClocks = new Map<string, number>();
  private readInFlight: () => number = () => 0;
  private readonly lastCounts = new Map<string, { fetched: number; failed: number }>();

  constructor(store: Store) {
    const registers = [this.registry];
    // Under their standard names (process_cpu_user_seconds_total, nodejs_heap_size_used_bytes, ...),
    // which dashboards and alerts for Node services expect.
    collectDefaultMetrics({ register: this.registry });
    new Gauge({
      name: 'sluice_build_info',
      help: 'Always 1; the labels say which Sluice runs here: version, Node.js version, commit (when known)',
      labelNames: ['version', 'node', 'commit'],
      registers,
    }).set({ version: packageJson.version, node: process.version, commit: buildCommit() }, 1);
    this.started = new Counter({ name: 'sluice_executions_started_total', help: 'Executions started (claimed by a worker), by kind', labelNames: ['kind'], registers });
    this.finished = new Counter({ name: 'sluice_executions_finished_total', help: 'Executions that reached a terminal status', labelNames: ['kind', 'status'], registers });
    new Gauge({
      name: 'sluice_executions_active',
      help: 'Executions by active status (QUEUED, RUNNING, CANCELLING), read from the database at scrape time: the same on every node sharing it (aggregate with max, not sum)',
      labelNames: ['status'],
      registers,
      async collect() {
        const active = await store.listExecutions({ statuses: ACTIVE_STATUSES });
        for (const status of ACTIVE_STATUSES) this.set({ status }, active.filter((e) => e.status === status).length);
      },
    });
    this.cancelLatency = new Histogram({
      name: 'sluice_cancel_latency_seconds',
      help: 'From a cancel request to the CANCELLED status',
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers,
    });
    this.unhandledRejections = new Counter({ name: 'sluice_unhandled_rejections_total', help: 'Promise rejections nothing handled (logged; the process keeps serving)', registers });
    this.graceExceeded = new Counter({ name: 'sluice_cancel_grace_exceeded_total', help: 'Cancelled executions whose code did not stop within the grace period', registers });
    this.selfFenced = new Counter({
      name: 'sluice_self_fenced_total',
      help: 'Executions whose code this node stopped itself because it could not confirm their lease in time (then released to resume)',
      registers,
    });
    this.recovered = new Counter({ name: 'sluice_executions_recovered_total', help: 'Executions found orphaned by a dead node, by what became of them', labelNames: ['outcome'], registers });
    this.events = new Counter({ name: 'sluice_events_published_total', help: 'Execution events published, by type', labelNames: ['type'], registers });
    this.pages = new Counter({ name: 'sluice_pages_total', help: 'Pages crawled, by outcome (fetched, failed)', labelNames: ['outcome'], registers });
    this.subscriptions = new Gauge({ name: 'sluice_subscriptions_live', help: 'Live GraphQL subscriptions, by field', labelNames: ['field'], registers });
    this.renders = new Counter({
      name: 'sluice_subscription_renders_total',
      help: 'Subscription payloads resolved and serialised: once per event and group of subscribers (graphql-ws and SSE alike), not per subscriber',
      labelNames: ['field'],
      registers,
    });
    this.slowSubscribers = new Counter({
      name: 'sluice_subscription_slow_total',
      help: 'Subscribers too slow for the live stream: lagged (fell back to reading the log once drained) or closed (1013, or an SSE response cut off)',
      labelNames: ['outcome'],
      registers,
    });
    const inFlight = () => this.readInFlight();
    new Gauge({
      name: 'sluice_http_requests_in_flight',
      help: 'HTTP requests received and not yet answered (a shutdown waits for them)',
      registers,
      collect() {
        this.set(inFlight());
      },
    });
    this.httpDuration = new Histogram({
      name: 'sluice_http_request_duration_seconds',
      help: 'HTTP request durations',
      labelNames: ['method', 'route', 'status'],
      buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
      registers,
    });
    this.graphqlDuration = new Histogram({
      name: 'sluice_graphql_operation_duration_seconds',
      help: 'GraphQL query and mutation execution durations',
      labelNames: ['operation', 'field'],
      buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
      registers,
    });
  }

  /** Where sluice_http_requests_in_flight reads its value. */
  countInFlight(read: () => number): void {
    this.readInFlight = read;
  }

  /**
   * Answers a scrape: 200 with the text, or 500 when a collector fails (the database is down, say).
   * Never rejects: a failed scrape must not become an unhandled rejection that ends the process.
   */
  async answerScrape(res: ServerResponse, log: Logger): Promise<void> {
    let text: string;
    try {
      text = await this.registry.metrics();
    } catch (error) {
      log.warn({ err: error }, 'metrics: a collector failed; the scrape is answered 500');
      if (!res.headersSent) res.writeHead(500, { 'content-type': 'text/plain; charset=utf-8' });
      res.end(`metrics could not be collected: ${error instanceof Error ? error.message : String(error)}\n`);
      return;
    }
    res.writeHead(200, { 'content-type': this.registry.contentType }).end(text);
  }

  /** Every committed change the engine publishes passes through here. */
  onChange(change: Change): void {
    for (const event of change.events) this.onEvent(change.execution, event);
  }

  onCancelRequested(id: string, requestedAt: number): void {
    if (!this.cancelClocks.has(id)) this.cancelClocks.set(id, requestedAt);
  }

  /** A promise rejection nothing handled: counted, so an alert can say the code has a hole. */
  onUnhandledRejection(): void {
    this.unhandledRejections.inc();
  }

  onGraceExceeded(): void {
    this.graceExceeded.inc();
  }

  onSelfFenced(): void {
    this.selfFenced.inc();
  }

  onRecovered(outcome: 'resumed' | 'interrupted' | 'cancelled'): void {
    this.recovered.inc({ outcome });
  }

  /** Counts a live subscription until the returned function is called. */
  /** One event resolved and serialised for a group of subscribers. */
  countRender(field: string): void {
    this.renders.inc({ field });
  }

  /** A subscriber left the live stream for being slow, or its socket was closed for it. */
  countSlow(outcome: 'lagged' | 'closed'): void {
    this.slowSubscribers.inc({ outcome });
  }

  trackSubscription(field: string): () => void {
    this.subscriptions.inc({ field });
    let done = false;
    return () => {
      if (!done) this.subscriptions.dec({ field });
      done = true;
    };
  }

  private onEvent(execution: Execution, event: ExecutionEvent): void {
    this.events.inc({ type: event.type });
    const last = this.lastCounts.get(execution.id) ?? { fetched: event.progress.pagesFetched, failed: event.progress.pagesFailed };
    if (event.progress.pagesFetched > last.fetched) this.pages.inc({ outcome: 'fetched' }, event.progress.pagesFetched - last.fetched);
    if (event.progress.pagesFailed > last.failed) this.pages.inc({ outcome: 'failed' }, event.progress.pagesFailed - last.failed);
    this.lastCounts.set(execution.id, {
      fetched: Math.max(last.fetched, event.progress.pagesFetched),
      failed: Math.max(last.failed, event.progress.pagesFailed),
    });
    if (event.type !== 'STATUS') return;
    if (event.status === 'RUNNING') this.started.inc({ kind: execution.kind });
    if (!isTerminal(event.status)) return;
    this.finished.inc({ kind: execution.kind, status: event.status });
    this.lastCounts.delete(execution.id);
    const clock = this.cancelClocks.get(execution.id);
    if (clock !== undefined) {
      this.cancelClocks.delete(execution.id);
      if (event.status === 'CANCELLED') this.cancelLatency.observe(secondsSince(clock));
    }
  }
}

/** The commit this build was made from: SLUICE_COMMIT at run time, else the one `npm run build` saw. */
function buildCommit(): string {
  return process.env.SLUICE_COMMIT || process.env.SLUICE_BUILD_COMMIT || 'unknown';
}

/** A Yoga plugin timing each GraphQL query and mutation. */
export function useOperationMetrics(metrics: Metrics): Plugin {
  return {
    onExecute({ args }) {
      const start = performance.now();
      const operation = getOperationAST(args.document, args.operationName);
      // The first root field, not the client's operation name: bounded by the schema, so label
      // cardinality cannot be blown up by callers.
      const first = operation?.selectionSet.selections.find((s) => s.kind === Kind.FIELD);
      return {
        onExecuteDone() {
          metrics.graphqlDuration.observe(
            { operation: operation?.operation ?? 'unknown', field: first?.kind === Kind.FIELD ? first.name.value : 'unknown' },
            secondsSince(start),
          );
        },
      };
    },
  };
}
