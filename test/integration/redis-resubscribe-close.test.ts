// The Redis pub/sub re-subscribes its channels after a dropped connection. If the node closes (or the
// connection drops again) before Redis answers that SUBSCRIBE, the command is rejected: that rejection
// must be heard, or it is an unhandled rejection that ends the node. A TCP proxy in front of the real
// Redis drops the connection, then drops it again as the SUBSCRIBE is re-sent and closes the pub/sub then.
import { createConnection, createServer, type Socket } from 'node:net';
import { randomUUID } from 'node:crypto';
import { pino } from 'pino';
import { afterEach, beforeEach, expect, test } from 'vitest';
import { createRedisPubSub } from '../../server/pubsub-redis.ts';
import { deferCleanup } from '../helpers/cleanup.ts';
import { TEST_REDIS_URL } from '../helpers/cluster.ts';

const unhandled: unknown[] = [];
const onUnhandled = (reason: unknown): void => void unhandled.push(reason);
beforeEach(() => void process.on('unhandledRejection', onUnhandled));
afterEach(() => void process.off('unhandledRejection', onUnhandled));

/** A proxy to Redis that, once armed, drops the connection on which a client sends SUBSCRIBE and reports it. */
async function subscribeHoldingProxy(target: URL) {
  const pairs = new Set<[Socket, Socket]>();
  let armed = false;
  let onHeld: () => void = () => {};
  const held = new Promise<void>((resolve) => (onHeld = resolve));
  const server = createServer((client) => {
    const upstream = createConnection({ host: target.hostname, port: Number(target.port || 6379) });
    const pair: [Socket, Socket] = [client, upstream];
    pairs.add(pair);
    const end = (): void => {
      pairs.delete(pair);
      client.destroy();
      upstream.destroy();
    };
    client.on('error', end).on('close', end);
    upstream.on('error', end).on('close', end);
    client.on('data', (chunk: Buffer) => {
      if (armed && /\r\nsubscribe\r\n/i.test(chunk.toString('latin1'))) {
        // The connection drops again before Redis sees the SUBSCRIBE; the pub/sub is closed at once.
        armed = false;
        end();
        onHeld();
        return;
      }
      upstream.write(chunk);
    });
    upstream.pipe(client);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  return {
    url: `redis://127.0.0.1:${port}`,
    held,
    /** Drops every connection; the next SUBSCRIBE sent is held back. */
    dropAndHoldNextSubscribe() {
      armed = true;
      for (const [a, b] of [...pairs]) {
        a.destroy();
        b.destroy();
      }
    },
    close: () => {
      for (const [a, b] of [...pairs]) {
        a.destroy();
        b.destroy();
      }
      return new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

test('closing while the re-subscribe after a dropped connection is unanswered rejects nothing unheard', async () => {
  const proxy = await subscribeHoldingProxy(new URL(TEST_REDIS_URL));
  deferCleanup(() => proxy.close());
  const redis = createRedisPubSub(proxy.url, { prefix: `t-${randomUUID()}:`, log: pino({ level: 'silent' }) });
  let closed = false;
  deferCleanup(() => (closed ? undefined : redis.close()));
  const stop = redis.pubsub.listen('execution:changed', null, () => {});
  deferCleanup(stop);
  await redis.pubsub.settled();

  proxy.dropAndHoldNextSubscribe();
  await proxy.held; // the client reconnected and sent its SUBSCRIBE; Redis never sees it
  await redis.close(); // in the same turn: the client has not yet noticed the drop
  closed = true;
  // A rejection nobody listens to is reported once the microtasks have run, before the next macrotask.
  await new Promise((resolve) => setImmediate(resolve));
  expect(unhandled.map(String)).toEqual([]);
});
