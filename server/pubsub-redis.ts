import { createRedisEventTarget } from '@graphql-yoga/redis-event-target';
import type { PubSubEventTarget } from '@graphql-yoga/subscription';
import { Redis } from 'ioredis';
import type { Logger } from 'pino';
import { createSluicePubSub, type SluicePubSub, type Topics } from './pubsub.ts';
import { within } from './lib/timing.ts';

/** Pub/sub over Redis, so every node hears every other node's events and cancel doorbells. */
export interface RedisPubSub {
  pubsub: SluicePubSub;
  /** Throws unless both connections are up and Redis answers (for /ready). */
  ping(): Promise<void>;
  close(): Promise<void>;
}

export interface RedisPubSubOptions {
  /** Put before every channel name, so one Redis can serve several Sluice systems. */
  prefix: string;
  log: Logger;
  /** How long a /ready ping may take. */
  pingTimeoutMs?: number;
}

/**
 * Builds Sluice's pub/sub on Redis: Yoga's Redis event target over two ioredis clients (a client in
 * subscriber mode cannot publish), with channel names prefixed. ioredis reconnects by itself and
 * re-subscribes its channels (here, not by its autoResubscribe: see below); a publish made while Redis is away is queued and sent
 * after the reconnect, or dropped with a warning. Neither loses anything: pub/sub is only the
 * doorbell, the event log and the tombstone are in the database (subscribers refill from the log, the
 * owner of a cancelled execution re-reads its status on each heartbeat).
 */
export function createRedisPubSub(url: string, options: RedisPubSubOptions): RedisPubSub {
  const { prefix, log } = options;
  const publishClient = new Redis(url, { connectionName: 'sluice-publish' });
  // Subscriptions wait for the connection however long Redis is away, rather than failing. No
  // autoResubscribe: ioredis would send that SUBSCRIBE with nobody listening to its promise, and a
  // close (or a drop) before Redis answers it rejects it, an unhandled rejection that ends the node.
  // The channels are re-subscribed here instead, on each reconnect, with the failure logged.
  const subscribeClient = new Redis(url, { connectionName: 'sluice-subscribe', maxRetriesPerRequest: null, autoResubscribe: false });
  const channels = new Set<string>();
  const resubscribed = new Set<() => void>();
  let connectedBefore = false;
  subscribeClient.on('ready', () => {
    if (connectedBefore && channels.size)
      subscribeClient.subscribe(...channels).then(
        // Messages published while this connection was away are lost: the listeners may read what they missed.
        () => resubscribed.forEach((listener) => listener()),
        (error: unknown) => log.warn({ err: error }, 'redis: re-subscribing failed; the next reconnect tries again'),
      );
    connectedBefore = true;
  });
  for (const [role, client] of [
    ['publish', publishClient],
    ['subscribe', subscribeClient],
  ] as const) {
    let down = false;
    // An 'error' listener keeps a Redis outage from crashing the process; one warning per outage.
    client.on('error', (error: Error) => {
      if (!down) log.warn({ err: error, role }, 'redis: connection lost; reconnecting');
      down = true;
    });
    client.on('ready', () => {
      if (down) log.info({ role }, 'redis: reconnected');
      down = false;
    });
  }

  const target = createRedisEventTarget<CustomEvent>({
    publishClient: withoutRejections(publishClient, log),
    subscribeClient: withoutRejections(subscribeClient, log, channels),
  });
  const prefixed = {
    addEventListener: (type: string, listener: EventListenerOrEventListenerObject | null) =>
      target.addEventListener(prefix + type, listener as never),
    removeEventListener: (type: string, listener: EventListenerOrEventListenerObject | null) =>
      target.removeEventListener(prefix + type, listener as never),
    dispatchEvent: (event: CustomEvent) => target.dispatchEvent(new CustomEvent(prefix + event.type, { detail: event.detail })),
  };

  const pingTimeoutMs = options.pingTimeoutMs ?? 1000;
  return {
    // Commands on one connection run in order: a PING answered after the SUBSCRIBEs means they are in place.
    pubsub: createSluicePubSub(
      prefixed as unknown as PubSubEventTarget<Topics>,
      async () => void (await subscribeClient.ping()),
      (listener) => {
        resubscribed.add(listener);
        return () => resubscribed.delete(listener);
      },
    ),
    async ping() {
      if (publishClient.status !== 'ready' || subscribeClient.status !== 'ready') throw new Error('redis is not connected');
      const answer = await within(publishClient.ping(), pingTimeoutMs);
      if (!answer.settled) throw new Error(`redis did not answer within ${pingTimeoutMs} ms`);
    },
    async close() {
      await Promise.all([publishClient, subscribeClient].map((c) => (c.status === 'ready' ? c.quit().catch(() => c.disconnect()) : c.disconnect())));
    },
  };
}

/**
 * The event target calls publish, subscribe and unsubscribe without awaiting them; a command that
 * fails while Redis is away would be an unhandled rejection, which ends a Node process. This view of
 * the client logs such failures instead.
 */
function withoutRejections(client: Redis, log: Logger, channels?: Set<string>): Redis {
  const guarded = new Set(['publish', 'subscribe', 'unsubscribe']);
  return new Proxy(client, {
    get(target, property, receiver) {
      const value = Reflect.get(target, property, receiver) as unknown;
      if (typeof property !== 'string' || !guarded.has(property) || typeof value !== 'function') return value;
      return (...args: unknown[]) => {
        // The channels this node listens on, to re-subscribe after a reconnect.
        if (property === 'subscribe') for (const c of args) channels?.add(c as string);
        if (property === 'unsubscribe') for (const c of args) channels?.delete(c as string);
        return (value as (...a: unknown[]) => Promise<unknown>).apply(target, args).catch((error: unknown) => {
          log.warn({ err: error, command: property, channel: args[0] }, 'redis: command failed; the database still has the record');
        });
      };
    },
  });
}
