/**
 * Reads `read` every 10 ms until `check` holds, and returns that value; after `ms` it returns the
 * last value read, so the test's assertion on it says what was there instead of a timeout.
 */
export async function pollUntil<T>(read: () => Promise<T> | T, check: (value: T) => boolean, ms = 10_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await read();
    if (check(value) || Date.now() > deadline) return value;
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}
