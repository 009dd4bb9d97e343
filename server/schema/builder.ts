import SchemaBuilder from '@pothos/core';
import type { Config } from '../config.ts';
import type { Engine } from '../engine/engine.ts';
import type { Metrics } from '../http/metrics.ts';
import type { SluicePubSub } from '../pubsub.ts';
import type { Principal } from '../security/tokens.ts';
import type { Store } from '../store/store.ts';

/** What every resolver gets. `actor` names the caller (token name, or "local") for audit fields. */
export interface Context {
  engine: Engine;
  store: Store;
  pubsub: SluicePubSub;
  config: Config;
  metrics: Metrics;
  actor: string;
  /** The caller and its scopes; null only if authentication was skipped (access control then refuses everything). */
  principal: Principal | null;
}

export const builder = new SchemaBuilder<{
  Context: Context;
  Scalars: { DateTime: { Input: Date; Output: Date | number | string } };
  DefaultFieldNullability: false;
}>({ defaultFieldNullability: false });

builder.scalarType('DateTime', {
  description: 'ISO-8601 date and time in UTC',
  serialize: (value) => new Date(value).toISOString(),
  parseValue: (value) => {
    const date = new Date(String(value));
    if (Number.isNaN(date.getTime())) throw new TypeError('DateTime must be an ISO-8601 string');
    return date;
  },
});

builder.queryType({});
builder.mutationType({});
builder.subscriptionType({});
