import { initGraphQLTada } from 'gql.tada';
import type { introspection } from '../../schema/graphql-env.d.ts';

/**
 * The client's `graphql()` tag: every document is checked against schema/schema.graphql and typed
 * from it (`npm run typecheck` runs `gql.tada check`), so a field the API lacks fails the build.
 */
export const graphql = initGraphQLTada<{
  introspection: introspection;
  scalars: { DateTime: string };
  disableMasking: true;
}>();

export type { ResultOf, VariablesOf } from 'gql.tada';
