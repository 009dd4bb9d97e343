/** Whether an HTTP status is worth another try (rate limited or a server-side failure). */
export function isRetryableStatus(status: number): boolean {
  return status === 429 || status === 408 || status >= 500;
}

/** Milliseconds a Retry-After header asks for (seconds or an HTTP date), or null when absent or unreadable. */
export function parseRetryAfter(value: string | undefined, now = Date.now()): number | null {
  if (value === undefined || value.trim() === '') return null;
  const trimmed = value.trim();
  if (/^\d+$/.test(trimmed)) return Number(trimmed) * 1000;
  const date = Date.parse(trimmed);
  return Number.isNaN(date) ? null : Math.max(0, date - now);
}

/**
 * Delay before retry number `retry` (0-based): exponential with "equal jitter" so that many crawls
 * hitting one failing server do not retry in lockstep; a Retry-After wins, clamped to `capMs`.
 */
export function retryDelayMs(retry: number, baseMs: number, capMs: number, retryAfterMs: number | null): number {
  if (retryAfterMs !== null) return Math.min(retryAfterMs, capMs);
  const exponential = Math.min(capMs, baseMs * 2 ** retry);
  return exponential / 2 + Math.random() * (exponential / 2);
}
