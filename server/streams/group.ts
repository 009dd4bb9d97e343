// A group of subscribers that asked the same thing with the same access: what one event looks like
// for them is worked out once (GraphQL execution and JSON), and every member sends that same text.
import { execute, GraphQLError, type DocumentNode, type ExecutionResult, type GraphQLSchema } from 'graphql';

/** What a group runs for each event: one parsed operation and its variables. */
export interface GroupOperation {
  schema: GraphQLSchema;
  document: DocumentNode;
  operationName: string | null | undefined;
  variableValues: Record<string, unknown> | undefined;
  /** The GraphQL context of the group's access scope (resolvers below the root field may read it). */
  contextValue: unknown;
}

/** What a group needs of a member: send it a payload, or stop sending it live events. */
export interface GroupMember {
  /** Sends the group's payload (the JSON of a graphql-ws `next` payload) for the event `seq`. */
  deliver(seq: number, payload: string, terminal: boolean): void;
}

/** Payloads kept per group for subscribers who replay recent events (reconnects after a blip). */
const CACHED_PAYLOADS = 256;

export class Group<M extends GroupMember = GroupMember> {
  /** Members receiving live events. */
  readonly live = new Set<M>();
  /** Every member: live, catching up or lagging. */
  size = 0;
  private readonly cache = new Map<number, string>();

  constructor(
    readonly key: string,
    private readonly operation: GroupOperation,
    /** Called for each GraphQL execution the group runs (metrics: renders against deliveries). */
    private readonly onRender: () => void = () => {},
  ) {}

  /**
   * The payload of `root` for this group, computed once per event (per seq, when given). Synchronous
   * when every resolver is, which is the case for the fields Sluice streams today.
   */
  render(root: unknown, seq?: number): string | Promise<string> {
    if (seq !== undefined) {
      const hit = this.cache.get(seq);
      if (hit !== undefined) return hit;
    }
    const { schema, document, operationName, variableValues, contextValue } = this.operation;
    this.onRender();
    const result = execute({ schema, document, operationName, variableValues, contextValue, rootValue: root });
    const done = (r: ExecutionResult): string => {
      const payload = serialise(r);
      if (seq !== undefined) {
        this.cache.set(seq, payload);
        if (this.cache.size > CACHED_PAYLOADS) this.cache.delete(this.cache.keys().next().value!);
      }
      return payload;
    };
    return result instanceof Promise ? result.then(done) : done(result as ExecutionResult);
  }
}

/** The JSON of a result as graphql-ws sends it; errors not meant for users are masked as Yoga masks them. */
function serialise(result: ExecutionResult): string {
  if (!result.errors?.length) return JSON.stringify({ data: result.data });
  return JSON.stringify({ data: result.data, errors: result.errors.map(masked) });
}

function masked(error: GraphQLError): unknown {
  const original = error.originalError;
  if (original && !(original instanceof GraphQLError)) return { message: 'Unexpected error.', locations: error.locations, path: error.path };
  return error.toJSON();
}
