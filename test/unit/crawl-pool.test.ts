import { describe, expect, it } from 'vitest';
import { drain } from '../../server/jobs/crawl/pool.ts';

describe('drain', () => {
  it("frees a run's slot at once and waits for its rest, taking the items the rest queues", async () => {
    const queue = [1, 10];
    const started: number[] = [];
    const rests = new Map<number, () => void>();
    const done = drain<number>({
      concurrency: 1,
      signal: new AbortController().signal,
      take: () => queue.shift(),
      run: async (item) => {
        started.push(item);
        // the rest queues the next item only once the test lets it end
        const rest = new Promise<void>((resolve) => rests.set(item, resolve)).then(() => void (item < 3 && queue.push(item + 1)));
        return { rest };
      },
    });
    let settled = false;
    void done.then(() => (settled = true));
    await new Promise((resolve) => setImmediate(resolve));
    // one slot: 10 started while 1's rest runs; nothing queued now, and two rests running: not done
    expect(started).toEqual([1, 10]);
    rests.get(10)!();
    expect(settled).toBe(false);
    rests.get(1)!();
    await new Promise((resolve) => setImmediate(resolve));
    expect(started).toEqual([1, 10, 2]);
    rests.get(2)!();
    await new Promise((resolve) => setImmediate(resolve));
    rests.get(3)!();
    await done;
    expect(started).toEqual([1, 10, 2, 3]);
  });

  it("fails with a rest's error, once every rest has settled", async () => {
    const queue = [1, 2];
    let letSecondEnd!: () => void;
    const done = drain<number>({
      concurrency: 2,
      signal: new AbortController().signal,
      take: () => queue.shift(),
      run: async (item) => ({
        rest: item === 1 ? Promise.reject(new Error('refused')) : new Promise<void>((resolve) => (letSecondEnd = resolve)),
      }),
    });
    let settled = false;
    const outcome = done.catch((error: unknown) => ((settled = true), error));
    await new Promise((resolve) => setImmediate(resolve));
    expect(settled).toBe(false);
    letSecondEnd();
    expect(((await outcome) as Error).message).toBe('refused');
  });
});
