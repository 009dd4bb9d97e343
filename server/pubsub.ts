import { setMaxListeners } from 'node:events';
import { createPubSub, type PubSub } from '@graphql-yoga/subscription';
import type { Execution, ExecutionEvent } from './executions/types.ts';

/**
 * Every topic of Sluice, typed. Pub/sub is only a doorbell: the database is the record, so a lost
 * message delays a subscriber (it refills gaps from the event log) but never loses anything.
 */
export type Topics = {
  /** An event of one execution, published after the transaction that wrote it committed. */
  'execution:event': [executionId: string, event: ExecutionEvent];
  /** The row of an execution whose status changed. */
  'execution:changed': [execution: Execution];
  /**
   * Rings the node that runs an execution so it aborts it now (the tombstone, or the pause, is
   * already written). A pause names the attempt it paused: only that attempt's code stops.
   */
  'execution:cancel': [nodeId: string, request: { executionId: string; pause?: { attempt: number } }];
};

type Payload<K extends keyof Topics> = Topics[K] extends [string, infer P] ? P : Topics[K][0];

/**
 * Yoga's pub/sub plus `listen`: a plain listener called synchronously for each message of one
 * topic and id, with no Repeater between. Streams that keep their own bounded buffer use it (a
 * Repeater throws once 1,024 pushes are waiting for a slow reader, inside the publisher's call).
 */
export interface SluicePubSub extends PubSub<Topics> {
  /** `id` is the routing id of topics that have one ('execution:event', 'execution:cancel'), else null. */
  listen<K extends keyof Topics>(topic: K, id: string | null, listener: (payload: Payload<K>) => void): () => void;
  /** Resolves once the listeners added so far hear messages (at once in-process; Redis confirms). */
  settled(): Promise<void>;
  /**
   * Calls `listener` each time the listeners hear messages again after pub/sub was away (Redis
   * reconnected and re-subscribed): what was published meanwhile may be lost. Never in-process.
   */
  onResubscribed(listener: () => void): () => void;
}

type EventTargetOf<C> = C extends { eventTarget?: infer T } ? T : never;
type Target = EventTargetOf<Parameters<typeof createPubSub<Topics>>[0]>;

/** In-process pub/sub by default; pass a distributed event target (Redis) to span several nodes. */
export function createSluicePubSub(
  eventTarget?: Target,
  settled: () => Promise<void> = async () => {},
  onResubscribed: SluicePubSub['onResubscribed'] = () => () => {},
): SluicePubSub {
  const target = eventTarget ?? new EventTarget();
  // Every watcher of an execution listens on its topic; thousands are normal, not a leak.
  if (!eventTarget) setMaxListeners(0, target as EventTarget);
  const pubsub = createPubSub<Topics>({ eventTarget: target as Target });
  return {
    ...pubsub,
    settled,
    onResubscribed,
    listen(topic, id, listener) {
      // createPubSub names a topic with an id "<topic>:<id>" and puts the payload in `detail`.
      const type = id === null ? topic : `${topic}:${id}`;
      const handler = (event: Event): void => listener((event as CustomEvent).detail);
      target.addEventListener(type, handler as never);
      return () => target.removeEventListener(type, handler as never);
    },
  };
}
