// Who may run which operation: one check per operation, on its root fields, for HTTP and graphql-ws
// alike (both run operations through Yoga's enveloped execute/subscribe).
import { getOperationAST, GraphQLError, Kind, type DocumentNode, type SelectionSetNode } from 'graphql';
import type { Plugin } from 'graphql-yoga';
import type { RateLimiter } from './rate-limit.ts';
import { hasScope, type Principal, type Scope } from './tokens.ts';

type OperationKind = 'query' | 'mutation' | 'subscription';

/**
 * The scope each mutation needs. A mutation not listed here needs admin: a new mutation stays
 * admin-only until someone decides its scope and lists it (fail closed).
 * deleteKnowledgeSource destroys stored pages, so it needs admin rather than cancel.
 * Renaming and deleting a conversation need execute, as asking in it does: whoever may ask may
 * already cancel its running answer by asking again (superseded), and a cancel-only operator token
 * controls work, not conversations.
 */
export const MUTATION_SCOPES: Readonly<Record<string, Scope>> = {
  startCrawl: 'execute',
  sendChatMessage: 'execute',
  rerunExecution: 'execute',
  renameChatSession: 'execute',
  deleteChatSession: 'execute',
  cancelExecution: 'cancel',
  cancelExecutions: 'cancel',
  // pausing, resuming and reordering control work that exists, as a cancel does
  pauseExecution: 'cancel',
  pauseExecutions: 'cancel',
  resumeExecution: 'cancel',
  resumeExecutions: 'cancel',
  setExecutionPriority: 'cancel',
  deleteKnowledgeSource: 'admin',
};

/** Mutations that start work; each call counts against the caller's rate limit. */
export const START_MUTATIONS: ReadonlySet<string> = new Set(['startCrawl', 'sendChatMessage', 'rerunExecution']);

/** The scope a root field needs: read for every query and subscription field, see MUTATION_SCOPES for mutations. */
export function requiredScope(operation: OperationKind, field: string): Scope | null {
  if (field === '__typename') return null;
  if (operation !== 'mutation') return 'read';
  return MUTATION_SCOPES[field] ?? 'admin';
}

/** The operation to run and the names (not aliases) of its root fields, fragments included. */
export function rootFields(document: DocumentNode, operationName?: string | null): { operation: OperationKind; fields: string[] } | null {
  const operation = getOperationAST(document, operationName);
  if (!operation) return null;
  const fragments = new Map<string, SelectionSetNode>();
  for (const definition of document.definitions) {
    if (definition.kind === Kind.FRAGMENT_DEFINITION) fragments.set(definition.name.value, definition.selectionSet);
  }
  const fields: string[] = [];
  const seen = new Set<string>();
  // @skip/@include are ignored on purpose: a field that might run must be allowed.
  const walk = (set: SelectionSetNode): void => {
    for (const selection of set.selections) {
      if (selection.kind === Kind.FIELD) fields.push(selection.name.value);
      else if (selection.kind === Kind.INLINE_FRAGMENT) walk(selection.selectionSet);
      else if (!seen.has(selection.name.value)) {
        seen.add(selection.name.value);
        const fragment = fragments.get(selection.name.value);
        if (fragment) walk(fragment);
      }
    }
  };
  walk(operation.selectionSet);
  return { operation: operation.operation as OperationKind, fields };
}

/** UNAUTHENTICATED: no token or an unknown one (HTTP 401). */
export function unauthenticated(message = 'this API needs a token: send "Authorization: Bearer <token>"'): GraphQLError {
  return new GraphQLError(message, {
    extensions: { code: 'UNAUTHENTICATED', http: { status: 401, headers: { 'WWW-Authenticate': 'Bearer realm="sluice"' } } },
  });
}

/** Why `principal` may not run these root fields, or null when it may. */
export function accessError(principal: Principal | null | undefined, operation: OperationKind, fields: readonly string[]): GraphQLError | null {
  if (!principal) return unauthenticated();
  for (const field of fields) {
    const scope = requiredScope(operation, field);
    if (scope && !hasScope(principal.scopes, scope)) {
      const has = principal.scopes.size ? [...principal.scopes].join(', ') : 'none';
      return new GraphQLError(`${field} needs the "${scope}" scope; the token "${principal.name}" has: ${has}`, {
        extensions: { code: 'FORBIDDEN', field, requiredScope: scope, http: { status: 403 } },
      });
    }
  }
  return null;
}

/** RATE_LIMITED, with a retry-after hint in seconds (and a Retry-After header over HTTP). */
export function rateLimited(message: string, retryAfterSeconds: number): GraphQLError {
  return new GraphQLError(message, {
    extensions: {
      code: 'RATE_LIMITED',
      retryAfterSeconds,
      http: { status: 429, headers: { 'Retry-After': String(retryAfterSeconds) } },
    },
  });
}

/**
 * An envelop plugin: before an operation executes or subscribes, its caller (`context.principal`)
 * must hold the scope of every root field, and calls that start work must fit the caller's rate limit.
 */
export function useAccessControl(limiter: RateLimiter, perMinute: number): Plugin<{ principal?: Principal | null }> {
  const check = (document: DocumentNode, operationName: string | null | undefined, principal: Principal | null | undefined) => {
    const root = rootFields(document, operationName);
    if (!root) return null; // graphql itself answers "unknown operation"
    const denied = accessError(principal, root.operation, root.fields);
    if (denied || !principal || root.operation !== 'mutation') return denied;
    const starts = root.fields.filter((f) => START_MUTATIONS.has(f)).length;
    if (perMinute > 0 && starts > perMinute) {
      return rateLimited(`one operation may start at most ${perMinute} executions; this one starts ${starts}`, 60);
    }
    const taken = limiter.take(principal.rateKey, starts);
    if (taken.ok) return null;
    return rateLimited(
      `too many executions started: at most ${perMinute} a minute per caller; try again in ${taken.retryAfterSeconds} s`,
      taken.retryAfterSeconds,
    );
  };
  return {
    onExecute({ args, setResultAndStopExecution }) {
      const error = check(args.document, args.operationName, args.contextValue.principal);
      if (error) setResultAndStopExecution({ errors: [error] });
    },
    onSubscribe({ args, setResultAndStopExecution }) {
      const error = check(args.document, args.operationName, args.contextValue.principal);
      if (error) setResultAndStopExecution({ errors: [error] });
    },
  };
}
