import { createPubSub, type PubSub } from 'graphql-yoga';
import type { Execution, ExecutionEvent } from './engine/types.ts';

/**
 * Every topic of Sluice, typed. Pub/sub is only a doorbell: the database is the record, so a lost
 * message delays a subscriber (it refills gaps from the event log) but never loses anything.
 */
export type Topics = {
  /** An event of one execution, published after the transaction that wrote it committed. */
  'execution:event': [executionId: string, event: ExecutionEvent];
  /** The row of an execution whose status changed. */
  'execution:changed': [execution: Execution];
  /** Rings the node that runs an execution so it aborts it now (the tombstone is already written). */
  'execution:cancel': [nodeId: string, request: { executionId: string }];
};

export type SluicePubSub = PubSub<Topics>;

/** In-process pub/sub by default; pass a distributed event target (Redis) to span several nodes. */
export function createSluicePubSub(eventTarget?: Parameters<typeof createPubSub<Topics>>[0] extends infer C
  ? C extends { eventTarget?: infer T } ? T : never : never): SluicePubSub {
  return createPubSub<Topics>(eventTarget ? { eventTarget } : undefined);
}
