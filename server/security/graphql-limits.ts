// Limits on the shape of GraphQL documents (GraphQL Armor), so that one request cannot make the
// server parse, validate or resolve without bound. They run inside Yoga's envelop, so operations
// over HTTP and over graphql-ws meet the same limits.
import { costLimitPlugin } from '@escape.tech/graphql-armor-cost-limit';
import { maxAliasesPlugin } from '@escape.tech/graphql-armor-max-aliases';
import { maxDepthPlugin } from '@escape.tech/graphql-armor-max-depth';
import { maxDirectivesPlugin } from '@escape.tech/graphql-armor-max-directives';
import { maxTokensPlugin } from '@escape.tech/graphql-armor-max-tokens';
import { GraphQLError, type ValidationContext } from 'graphql';
import type { Plugin } from 'graphql-yoga';

/** The built-in limits; the Vue client's and GraphiQL's documents (introspection included) stay well inside them. */
export const GRAPHQL_LIMITS = Object.freeze({
  /** Lexical tokens in a document (checked while parsing, so a huge document is not parsed whole). */
  maxTokens: 2000,
  /** Nesting of selections (introspection is not counted). */
  maxDepth: 10,
  /** Aliased fields in an operation. */
  maxAliases: 20,
  /** Directives in an operation. */
  maxDirectives: 50,
  /** GraphQL Armor's cost: objects 2, scalars 1, times 1.5 per level of depth. */
  maxCost: 5000,
});

// Armor's own rejections are plain errors; ours carry a code a client can act on.
const reportWithCode = (ctx: ValidationContext | null, error: GraphQLError): void => {
  const message = error.message.replace(/^Syntax Error: /, '');
  ctx?.reportError(new GraphQLError(message, { extensions: { code: 'QUERY_TOO_COMPLEX' } }));
};
const rejection = { propagateOnRejection: false, onReject: [reportWithCode] };

/** The document limits as envelop plugins, for Yoga's plugin list. */
export function graphqlLimitPlugins(limits = GRAPHQL_LIMITS): Plugin[] {
  return [
    // a token limit must stop the parser itself, so this one throws (a syntax error, HTTP 400)
    maxTokensPlugin({ n: limits.maxTokens }),
    maxDepthPlugin({ n: limits.maxDepth, ignoreIntrospection: true, flattenFragments: true, ...rejection }),
    maxAliasesPlugin({ n: limits.maxAliases, ...rejection }),
    maxDirectivesPlugin({ n: limits.maxDirectives, ...rejection }),
    costLimitPlugin({ maxCost: limits.maxCost, ...rejection }),
  ] as Plugin[];
}
