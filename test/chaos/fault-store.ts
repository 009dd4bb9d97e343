// A Store wrapper that delays, reorders and fails store calls, decided by a seeded PRNG. It is a Proxy
// over whatever object implements the Store interface, so it needs no change when the store is split
// into slices: every function-valued property is wrapped alike.
import { StoreUnavailableError } from '../../server/executions/types.ts';
import type { Store } from '../../server/store/store.ts';
import { createRng, type Rng } from './prng.ts';

/** How often each fault happens per call (0..1), and how long a delay may be. */
export interface FaultRates {
  /** A delay before the call runs: concurrent calls overtake each other (reordering). */
  delay: number;
  maxDelayMs: number;
  /** The call fails before it reaches the database (nothing committed). */
  failBefore: number;
  /** The call commits, then its answer is lost (the caller sees an error for work that was done). */
  failAfter: number;
}

export const NO_FAULTS: FaultRates = { delay: 0, maxDelayMs: 0, failBefore: 0, failAfter: 0 };

/** Calls that are never faulted: setting up and tearing down are not what a schedule tests. */
const UNTOUCHED = new Set(['migrate', 'close', 'constructor']);

export interface FaultyStore {
  store: Store;
  /** Changes the rates from now on. */
  setRates(rates: FaultRates): void;
  /** Every call fails (before it runs) until `heal()`: the node is cut off from its database. */
  partition(): void;
  heal(): void;
  /** Calls that were made, and how many of them were faulted. */
  stats: { calls: number; delayed: number; failedBefore: number; failedAfter: number };
}

const injected = (method: string, when: string): StoreUnavailableError =>
  new StoreUnavailableError(new Error(`chaos: ${method} failed ${when} (injected)`));

/**
 * Wraps `store`. The fault of the n-th call of a method is drawn from a stream of its own
 * (seed, label, method), so a method's n-th call gets the same decision on every replay of the seed,
 * whatever the other methods were doing.
 */
export function faultyStore(store: Store, seed: number, label: string, initial: FaultRates = NO_FAULTS): FaultyStore {
  let rates = initial;
  let partitioned = false;
  const streams = new Map<string, Rng>();
  const root = createRng(seed).fork(label);
  const stats = { calls: 0, delayed: 0, failedBefore: 0, failedAfter: 0 };
  const streamOf = (method: string): Rng => {
    let rng = streams.get(method);
    if (!rng) streams.set(method, (rng = root.fork(method)));
    return rng;
  };

  const wrap = (method: string, fn: (...args: unknown[]) => unknown, target: object) =>
    async (...args: unknown[]): Promise<unknown> => {
      stats.calls++;
      const rng = streamOf(method);
      // Always draw the same number of values per call, so decisions stay aligned with the call index.
      const [d, dl, fb, fa] = [rng.next(), rng.next(), rng.next(), rng.next()];
      if (partitioned) {
        stats.failedBefore++;
        throw injected(method, 'before it ran (partitioned)');
      }
      if (d < rates.delay) {
        stats.delayed++;
        await new Promise((resolve) => setTimeout(resolve, Math.floor(dl * rates.maxDelayMs)));
      }
      if (fb < rates.failBefore) {
        stats.failedBefore++;
        throw injected(method, 'before it ran');
      }
      const result = await fn.apply(target, args);
      if (fa < rates.failAfter) {
        stats.failedAfter++;
        throw injected(method, 'after it committed');
      }
      return result;
    };

  // Slices of the store (store.knowledge, store.chat) are wrapped alike, their methods named "slice.method".
  const faulty = <T extends object>(object: T, prefix: string): T => {
    const wrapped = new Map<PropertyKey, unknown>();
    return new Proxy(object, {
      get(target, key, receiver) {
        const value: unknown = Reflect.get(target, key, receiver);
        // Untouched methods run on the real object, so what they call inside is not faulted either.
        if (typeof key !== 'string' || UNTOUCHED.has(key)) return typeof value === 'function' ? value.bind(target) : value;
        let out = wrapped.get(key);
        if (out) return out;
        if (typeof value === 'function') out = wrap(`${prefix}${key}`, value as (...args: unknown[]) => unknown, target);
        else if (value !== null && typeof value === 'object') out = faulty(value, `${prefix}${key}.`);
        else return value;
        wrapped.set(key, out);
        return out;
      },
    });
  };
  const proxy = faulty(store, '');
  return {
    store: proxy,
    setRates: (next) => void (rates = next),
    partition: () => void (partitioned = true),
    heal: () => void (partitioned = false),
    stats,
  };
}
