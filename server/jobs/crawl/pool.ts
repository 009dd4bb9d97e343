import { abortReason } from '../../lib/abort.ts';

export interface DrainOptions<T> {
  concurrency: number;
  signal: AbortSignal;
  /** The next item, or undefined when there is nothing to start right now (tasks may add more). */
  take: () => T | undefined;
  /**
   * Runs an item; resolves once its slot is free, with the work it leaves running (`rest`), which
   * takes no slot but may still queue items, and whose failure fails the drain as the run's would.
   */
  run: (item: T) => Promise<{ rest: Promise<void> } | void>;
}

/**
 * Runs `run` on items from `take` with at most `concurrency` at once, until nothing is queued and
 * nothing runs (a run's rest included). On the first failure or an abort it starts nothing more,
 * waits for the running tasks to settle (they honour the same signal, so that is quick) and rejects
 * with that error.
 */
export function drain<T>(options: DrainOptions<T>): Promise<void> {
  const { concurrency, signal, take, run } = options;
  return new Promise((resolve, reject) => {
    let active = 0;
    /** Rests of runs whose slots are free (see DrainOptions.run). */
    let resting = 0;
    let failure: { error: unknown } | null = null;

    const settle = () => {
      if (active > 0 || resting > 0) return;
      signal.removeEventListener('abort', onAbort);
      if (failure) reject(failure.error);
      else resolve();
    };
    const fail = (error: unknown) => {
      failure ??= { error: signal.aborted ? abortReason(signal) : error };
      settle();
    };
    const onAbort = () => fail(abortReason(signal));
    const pump = () => {
      if (failure) return settle();
      while (active < concurrency) {
        const item = take();
        if (item === undefined) break;
        active++;
        run(item).then(
          (ran) => {
            active--;
            if (ran) {
              resting++;
              ran.rest.then(
                () => {
                  resting--;
                  pump();
                },
                (error: unknown) => {
                  resting--;
                  fail(error);
                },
              );
            }
            pump();
          },
          (error: unknown) => {
            active--;
            fail(error);
          },
        );
      }
      settle();
    };

    if (signal.aborted) return reject(abortReason(signal));
    signal.addEventListener('abort', onAbort, { once: true });
    pump();
  });
}
