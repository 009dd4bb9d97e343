/** How a wait with a deadline ended: the promise settled in time (with its outcome), or it did not. */
export type Within<T> = { settled: true; value: T } | { settled: false };

/**
 * Waits for `promise` at most `ms` milliseconds. Its rejection rejects this wait; the timer is
 * cleared as soon as the promise settles and never keeps the process alive.
 */
export async function within<T>(promise: Promise<T>, ms: number): Promise<Within<T>> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<Within<T>>((resolve) => {
    timer = setTimeout(() => resolve({ settled: false }), ms);
    timer.unref();
  });
  try {
    return await Promise.race([promise.then((value): Within<T> => ({ settled: true, value })), deadline]);
  } finally {
    clearTimeout(timer);
  }
}

/** Seconds since `start` (a performance.now() reading), as Prometheus histograms take them. */
export function secondsSince(start: number): number {
  return (performance.now() - start) / 1000;
}
