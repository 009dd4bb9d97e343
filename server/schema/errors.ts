import { GraphQLError, type ExecutionResult } from 'graphql';
import { handleStreamOrSingleExecutionResult, type Plugin } from 'graphql-yoga';
import { CallerError } from '../lib/errors.ts';

/** The GraphQL form of an error: a CallerError becomes `extensions.code` (+ its details); others are left as they are. */
export function toGraphQLError<E>(error: E): E | GraphQLError {
  const original = error instanceof GraphQLError ? error.originalError : error;
  if (!(original instanceof CallerError)) return error;
  const located = error instanceof GraphQLError ? error : null;
  return new GraphQLError(original.message, {
    nodes: located?.nodes,
    source: located?.source,
    positions: located?.positions,
    path: located?.path,
    extensions: { code: original.code, ...original.details },
  });
}

function mapResult({ result, setResult }: { result: ExecutionResult; setResult: (result: ExecutionResult) => void }): void {
  if (!result.errors?.some((e) => e.originalError instanceof CallerError)) return;
  setResult({ ...result, errors: result.errors.map(toGraphQLError) });
}

/**
 * The one place that turns domain errors (server/lib/errors.ts) into GraphQL errors with
 * `extensions.code`, for queries, mutations and subscriptions alike, before Yoga masks the rest.
 */
export function useCallerErrors(): Plugin {
  return {
    onExecute: () => ({ onExecuteDone: (payload) => handleStreamOrSingleExecutionResult(payload, mapResult) }),
    onSubscribe: () => ({
      onSubscribeResult: (payload) => handleStreamOrSingleExecutionResult(payload, mapResult),
      onSubscribeError: ({ error, setError }) => setError(toGraphQLError(error)),
    }),
  };
}
