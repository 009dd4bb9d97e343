import { setMaxListeners } from 'node:events';
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

type EventTargetOf<C> = C extends { eventTarget?: infer T } ? T : never;

/** In-process pub/sub by default; pass a distributed event target (Redis) to span several nodes. */
export function createSluicePubSub(eventTarget?: EventTargetOf<Parameters<typeof createPubSub<Topics>>[0]>): SluicePubSub {
  if (eventTarget) return createPubSub<Topics>({ eventTarget });
  // Every watcher of an execution listens on its topic; thousands are normal, not a leak.
  const target = new EventTarget();
  setMaxListeners(0, target);
  return createPubSub<Topics>({ eventTarget: target as EventTargetOf<Parameters<typeof createPubSub<Topics>>[0]> });
}
