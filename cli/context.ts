// What a command runs with: output streams, environment, the Ctrl-C signal and the API client.
import { createApi, graphqlEndpoint, type Api } from './api.ts';
import { UsageError } from './args.ts';

export const DEFAULT_URL = 'http://127.0.0.1:4000';

export interface Output extends NodeJS.WritableStream {
  isTTY?: boolean;
  columns?: number;
}

export interface Context {
  stdout: Output;
  stderr: Output;
  env: NodeJS.ProcessEnv;
  /** Aborted on Ctrl-C. */
  signal: AbortSignal;
  /** The API client for `url` (--url), else SLUICE_URL, else the default; with SLUICE_TOKEN. */
  api(url?: string): Api;
  /** Closes what api() opened. */
  close(): Promise<void>;
}

/** A context over the given streams and environment. */
export function createContext(io: { stdout: Output; stderr: Output; env: NodeJS.ProcessEnv; signal: AbortSignal }): Context {
  const opened: Api[] = [];
  return {
    ...io,
    api(url) {
      const base = url ?? (io.env.SLUICE_URL || DEFAULT_URL);
      try {
        graphqlEndpoint(base);
      } catch {
        throw new UsageError(`the server URL must be an http(s) URL; it is "${base}" (from ${url ? '--url' : 'SLUICE_URL'})`);
      }
      const api = createApi({ url: base, token: io.env.SLUICE_TOKEN || undefined, signal: io.signal });
      opened.push(api);
      return api;
    },
    async close() {
      await Promise.all(opened.map((api) => api.close()));
    },
  };
}
