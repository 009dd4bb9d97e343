import SchemaBuilder from '@pothos/core';
import type { Principal } from '../security/tokens.ts';
import type { ServiceContext } from '../services/context.ts';

/** What every resolver gets: what the services work with, and the caller. */
export interface Context extends ServiceContext {
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
