// Execute once, send to many. graphql-ws subscribers of jobProgress and executionChanged with the
// same operation, variables and access form a group; each event is resolved and serialised once per
// group and every socket of the group is sent the same text (only the subscription id differs).
import {
  getArgumentValues,
  getOperationAST,
  getVariableValues,
  GraphQLError,
  Kind,
  locatedError,
  visit,
  type DocumentNode,
  type ExecutionArgs,
  type ExecutionResult,
  type FieldNode,
  type GraphQLSchema,
  type OperationDefinitionNode,
} from 'graphql';
import type { Logger } from 'pino';
import type { SluicePubSub } from '../pubsub.ts';
import { accessError } from '../security/access.ts';
import type { Principal } from '../security/tokens.ts';
import { toGraphQLError } from '../schema/errors.ts';
import { CallerError } from '../lib/errors.ts';
import { startJobProgress } from '../services/streams.ts';
import type { Store } from '../store/store.ts';
import { ChangesFeed } from './changes-feed.ts';
import { ExecutionFeed, type FeedHooks } from './execution-feed.ts';
import { Group } from './group.ts';
import { Member, ParkedStream, type Sink } from './member.ts';

/** The subscription fields served by the fan-out. */
export type FanoutField = 'jobProgress' | 'executionChanged';
const FIELDS: ReadonlySet<string> = new Set<FanoutField>(['jobProgress', 'executionChanged']);

/** Close code for a socket that cannot keep up at all: 1013 "try again later" (clients reconnect and resume). */
export const WS_TOO_SLOW = 1013;

export interface FanoutOptions {
  store: Store;
  pubsub: SluicePubSub;
  schema: GraphQLSchema;
  /** The GraphQL context of one access scope, shared by its groups. */
  contextFor(principal: Principal | null): unknown;
  /** Counts a live subscription until the returned function is called (metrics). */
  track(field: FanoutField): () => void;
  /** Counts one event resolved and serialised for a group (once per group, not per subscriber). */
  rendered?(field: FanoutField): void;
  /** Counts a subscriber that left the live stream for being slow ('lagged') or whose socket was closed for it ('closed'). */
  slow?(outcome: 'lagged' | 'closed'): void;
  /** Bytes a socket may have waiting before its subscriber leaves the live stream (default 1 MiB). */
  highWaterBytes?: number;
  /** How long a socket may stay congested before it is closed with WS_TOO_SLOW (default 30 s). */
  stallMs?: number;
  log: Logger;
}

/** What the fan-out needs to know of one graphql-ws subscribe message. */
export interface FanoutRequest {
  field: FanoutField;
  sink: Sink;
  /** graphql-ws's id; null over SSE. */
  subscriptionId: string | null;
  principal: Principal | null;
}

/** How often congested sockets are looked at. */
const LAG_CHECK_MS = 25;
/** Watched executions whose log is read at once after pub/sub came back (see onResubscribed). */
const REREADS_AT_ONCE = 4;
const OPEN = 1;

export class Fanout {
  private readonly feeds = new Map<string, ExecutionFeed>();
  private changes: ChangesFeed | null = null;
  private readonly lagging = new Set<Member>();
  private lagTimer: NodeJS.Timeout | null = null;
  private readonly contexts = new Map<string, unknown>();
  private readonly highWater: number;
  private readonly stallMs: number;
  private readonly hooks: FeedHooks;
  private readonly stopResubscribed: () => void;

  constructor(private readonly options: FanoutOptions) {
    this.highWater = options.highWaterBytes ?? 1024 * 1024;
    this.stallMs = options.stallMs ?? 30_000;
    this.hooks = {
      lag: (member) => this.lag(member),
      forget: (member) => this.lagging.delete(member),
      empty: (feed) => this.feeds.delete(feed.executionId),
      warn: (error, message) => options.log.warn({ err: error }, message),
    };
    // Pub/sub was away (a Redis outage): every watched execution's log is read after its live edge
    // now, rather than at its idle read up to 2 s later; a few at a time, so that thousands of
    // watched executions do not queue their reads ahead of the node's lease renewals in its pool.
    this.stopResubscribed = options.pubsub.onResubscribed(() => {
      const feeds = [...this.feeds.values()];
      const reader = async () => {
        for (let feed = feeds.pop(); feed; feed = feeds.pop()) await feed.reread();
      };
      void Promise.all(Array.from({ length: Math.min(REREADS_AT_ONCE, feeds.length) }, reader));
    });
  }

  /** The fan-out field this operation subscribes to, when it is the operation's only root field. */
  static fieldOf(document: DocumentNode, operationName: string | null | undefined): FanoutField | null {
    const operation = getOperationAST(document, operationName);
    if (operation?.operation !== 'subscription' || operation.selectionSet.selections.length !== 1) return null;
    const root = operation.selectionSet.selections[0]!;
    if (root.kind !== Kind.FIELD || root.directives?.length || !FIELDS.has(root.name.value)) return null;
    return root.name.value as FanoutField;
  }

  /**
   * Starts one subscription: the same checks as the resolver (access per subscriber, arguments, the
   * execution), then joins its group. Returns the errors as a result, or the stream graphql-ws holds.
   */
  async subscribe(request: FanoutRequest, args: ExecutionArgs): Promise<AsyncGenerator<never> | ExecutionResult> {
    const denied = accessError(request.principal, 'subscription', [request.field]);
    if (denied) return { errors: [denied] };
    const operation = getOperationAST(args.document, args.operationName)!;
    const fieldNode = operation.selectionSet.selections[0] as FieldNode;
    const coerced = getVariableValues(args.schema, operation.variableDefinitions ?? [], args.variableValues ?? {}, { maxErrors: 50 });
    if (coerced.errors) return { errors: coerced.errors };
    try {
      const fieldDef = args.schema.getSubscriptionType()!.getFields()[request.field]!;
      const fieldArgs = getArgumentValues(fieldDef, fieldNode, coerced.coerced);
      const key = groupKey(request, args.document, operation, fieldNode, args.variableValues ?? {});
      const group = { args, key, field: request.field };
      if (request.field === 'executionChanged') return this.joinChanges(request, group);
      const start = await startJobProgress(this.options.store, fieldArgs.executionId as string, fieldArgs.afterSeq as number | null);
      if (start.ended || request.sink.readyState !== OPEN) return emptyStream();
      return this.joinExecution(request, group, start.executionId, start.afterSeq);
    } catch (error) {
      if (error instanceof GraphQLError || error instanceof CallerError)
        return { errors: [locatedError(toGraphQLError(error), [fieldNode], [request.field])] };
      this.options.log.error({ err: error }, 'subscription: unexpected error');
      return { errors: [new GraphQLError('Unexpected error.', { nodes: [fieldNode], path: [request.field] })] };
    }
  }

  /** Live subscriptions by state, for tests and diagnostics. */
  stats(): { feeds: number; groups: number; lagging: number } {
    let groups = this.changes?.groups.size ?? 0;
    for (const feed of this.feeds.values()) groups += feed.groups.size;
    return { feeds: this.feeds.size + (this.changes ? 1 : 0), groups, lagging: this.lagging.size };
  }

  close(): void {
    this.stopResubscribed();
    if (this.lagTimer) clearInterval(this.lagTimer);
    this.lagTimer = null;
  }

  private joinExecution(request: FanoutRequest, group: GroupSpec, executionId: string, afterSeq: number): AsyncGenerator<never> {
    let feed = this.feeds.get(executionId);
    if (!feed) {
      feed = new ExecutionFeed(executionId, this.options.store, this.options.pubsub, this.hooks);
      this.feeds.set(executionId, feed);
    }
    const member = this.member(request, this.groupIn(feed.groups, group, request.principal), afterSeq, feed);
    feed.join(member.member);
    return member.stream;
  }

  private joinChanges(request: FanoutRequest, group: GroupSpec): AsyncGenerator<never> {
    const changes = (this.changes ??= new ChangesFeed(this.options.pubsub, { ...this.hooks, empty: () => (this.changes = null) }));
    const member = this.member(request, this.groupIn(changes.groups, group, request.principal), 0, changes);
    changes.join(member.member);
    return member.stream;
  }

  private groupIn(groups: Map<string, Group<Member>>, spec: GroupSpec, principal: Principal | null): Group<Member> {
    let group = groups.get(spec.key);
    if (!group) {
      const { schema, document, operationName, variableValues } = spec.args;
      const rendered = this.options.rendered;
      const field = spec.field;
      group = new Group<Member>(
        spec.key,
        { schema, document, operationName, variableValues: variableValues ?? undefined, contextValue: this.contextOf(principal) },
        rendered && (() => rendered(field)),
      );
      groups.set(spec.key, group);
    }
    group.size++;
    return group;
  }

  private member(request: FanoutRequest, group: Group<Member>, afterSeq: number, home: ExecutionFeed | ChangesFeed) {
    const stream = new ParkedStream();
    const member = new Member({
      sink: request.sink,
      subscriptionId: request.subscriptionId,
      group,
      afterSeq,
      highWater: this.highWater,
      stream,
      release: this.options.track(request.field),
      home,
    });
    return { member, stream };
  }

  /** One context per access scope (the same scopes get the same context). */
  private contextOf(principal: Principal | null): unknown {
    const key = scopeKey(principal);
    let context = this.contexts.get(key);
    if (context === undefined) {
      context = this.options.contextFor(principal);
      this.contexts.set(key, context);
    }
    return context;
  }

  /** A congested member stops receiving live events; it resumes once drained, or its socket is closed. */
  private lag(member: Member): void {
    member.state = 'lagging';
    member.group.live.delete(member);
    this.options.slow?.('lagged');
    member.laggingSince = performance.now();
    this.lagging.add(member);
    this.lagTimer ??= setInterval(() => this.checkLagging(), LAG_CHECK_MS);
  }

  private checkLagging(): void {
    const now = performance.now();
    for (const member of this.lagging) {
      if (!member.open) this.lagging.delete(member);
      else if (member.drained) {
        this.lagging.delete(member);
        member.home.resume(member);
      } else if (now - member.laggingSince > this.stallMs) {
        this.lagging.delete(member);
        this.options.slow?.('closed');
        this.options.log.warn({ buffered: member.sink.bufferedAmount }, 'stream: a socket could not keep up; closing it (the client resumes with afterSeq)');
        member.sink.close(WS_TOO_SLOW, 'too slow to keep up: subscribe again with afterSeq');
      }
    }
    if (this.lagging.size === 0 && this.lagTimer) {
      clearInterval(this.lagTimer);
      this.lagTimer = null;
    }
  }
}

interface GroupSpec {
  args: ExecutionArgs;
  key: string;
  field: FanoutField;
}

function emptyStream(): AsyncGenerator<never> {
  const stream = new ParkedStream();
  stream.end();
  return stream;
}

/** "admin,read": subscribers with the same scopes see the same (later: plus the tenant). */
function scopeKey(principal: Principal | null): string {
  return principal ? [...principal.scopes].sort().join(',') : '';
}

const documentIds = new WeakMap<DocumentNode, number>();
let nextDocumentId = 1;
const selectionVariables = new WeakMap<FieldNode, string[]>();

/**
 * Same field, same document (Yoga's parse cache hands the same text the same document), same
 * operation, same access, and the same values of the variables the selection reads. The root
 * field's own arguments are left out: they pick the stream (the execution, where to start), not
 * what an event looks like, so reconnecting subscribers with different afterSeq share one group.
 */
function groupKey(request: FanoutRequest, document: DocumentNode, operation: OperationDefinitionNode, field: FieldNode, variables: Record<string, unknown>): string {
  let id = documentIds.get(document);
  if (id === undefined) documentIds.set(document, (id = nextDocumentId++));
  let names = selectionVariables.get(field);
  if (!names) {
    const found = new Set<string>();
    if (field.selectionSet) visit(field.selectionSet, { Variable: (node) => void found.add(node.name.value) });
    // Fragments spread in the selection may read variables too.
    for (const definition of document.definitions) {
      if (definition.kind === Kind.FRAGMENT_DEFINITION) visit(definition, { Variable: (node) => void found.add(node.name.value) });
    }
    names = [...found].sort();
    selectionVariables.set(field, names);
  }
  const values = names.map((name) => variables[name]);
  return `${request.field}|${id}|${operation.name?.value ?? ''}|${scopeKey(request.principal)}|${JSON.stringify(values)}`;
}
