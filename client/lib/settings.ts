// Timings of the connection and of Stop. The defaults suit people; a page may set
// `window.sluiceSettings = { keepAliveMs: 1000, … }` before the app loads (the browser tests do, to
// see a dead socket noticed in seconds rather than waiting the default 15).

export interface Settings {
  /** graphql-ws keep-alive ping interval. */
  keepAliveMs: number;
  /** A ping without a pong for this long: the socket is dead and is replaced. */
  pongTimeoutMs: number;
  /** A Stop request without an answer for this long is sent once more, then reported. */
  stopTimeoutMs: number;
  /** How long a toast stays (its clock stops while the toasts are hovered or focused). */
  toastMs: number;
  /** How long an error toast stays. */
  errorToastMs: number;
}

const DEFAULTS: Settings = { keepAliveMs: 10_000, pongTimeoutMs: 5_000, stopTimeoutMs: 10_000, toastMs: 6_000, errorToastMs: 10_000 };

/** The defaults, with any positive numbers from `globalThis.sluiceSettings` in their place. */
export function readSettings(source: unknown = (globalThis as { sluiceSettings?: unknown }).sluiceSettings): Settings {
  const given = typeof source === 'object' && source !== null ? (source as Record<string, unknown>) : {};
  const pick = (key: keyof Settings): number => {
    const value = given[key];
    return typeof value === 'number' && Number.isFinite(value) && value > 0 ? value : DEFAULTS[key];
  };
  return {
    keepAliveMs: pick('keepAliveMs'),
    pongTimeoutMs: pick('pongTimeoutMs'),
    stopTimeoutMs: pick('stopTimeoutMs'),
    toastMs: pick('toastMs'),
    errorToastMs: pick('errorToastMs'),
  };
}
