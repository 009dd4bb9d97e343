import type { Config } from '../config.ts';
import type { Engine } from '../engine/engine.ts';
import type { SluicePubSub } from '../pubsub.ts';
import type { Store } from '../store/store.ts';

/** What every service function works with; `actor` names the caller (token name, or "local") for audit fields. */
export interface ServiceContext {
  engine: Engine;
  store: Store;
  pubsub: SluicePubSub;
  config: Config;
  /** Counts a live subscription from its first read until it ends (the metrics at /metrics). */
  metrics: { trackSubscription(field: string): () => void };
  actor: string;
}
