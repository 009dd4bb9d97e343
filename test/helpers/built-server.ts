// The compiled server (dist/server/main.js) as a real child process, the way a deployment runs it:
// for probes, signals and shutdown. The build is made first when it is missing or stale.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { deferCleanup } from './cleanup.ts';
import { tempDir } from './stores.ts';
import { partState } from '../../scripts/build-state.js';

/** Builds the server and CLI (esbuild, a few seconds) unless the build is fresh. */
export function ensureServerBuilt(): void {
  if (partState('server') === 'fresh') return;
  const build = spawnSync(process.execPath, ['scripts/build.js', 'server'], { stdio: ['ignore', 'ignore', 'inherit'] });
  if (build.status !== 0) throw new Error('node scripts/build.js server failed');
}

export interface BuiltServer {
  child: ChildProcess;
  url: string;
  dataDir: string;
  /** Every stdout line so far (JSON log lines at LOG_LEVEL info). */
  lines: string[];
  /** Resolves with the first line (already printed or still to come) that matches. */
  line(pattern: RegExp): Promise<string>;
  /** Resolves with the exit code (or 128 + signal number when a signal ended it). */
  exited: Promise<number>;
  signal(signal: NodeJS.Signals): void;
}

/**
 * Starts `node [nodeOptions] dist/server/main.js` on port 0, with its own data folder (removed after
 * the test) or the given one; killed after the test if still running.
 */
export async function startBuiltServer(env: Record<string, string> = {}, dataDir?: string, nodeOptions: string[] = []): Promise<BuiltServer> {
  ensureServerBuilt();
  const dir = dataDir ? { path: dataDir, remove: () => {} } : tempDir('sluice-built-');
  const child = spawn(process.execPath, [...nodeOptions, 'dist/server/main.js'], {
    env: { ...process.env, PORT: '0', SLUICE_DATA_DIR: dir.path, SLUICE_ALLOW_PRIVATE_NETWORKS: 'true', LOG_LEVEL: 'info', ...env },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const exited = new Promise<number>((resolve) => {
    child.once('exit', (code, signal) => resolve(code ?? 128 + (signal === 'SIGKILL' ? 9 : 15)));
  });
  deferCleanup(async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    await exited;
    dir.remove();
  });
  const lines: string[] = [];
  const waiters: { pattern: RegExp; resolve: (line: string) => void }[] = [];
  createInterface({ input: child.stdout! }).on('line', (text) => {
    lines.push(text);
    for (const w of waiters.filter((w) => w.pattern.test(text))) {
      waiters.splice(waiters.indexOf(w), 1);
      w.resolve(text);
    }
  });
  const line = (pattern: RegExp) =>
    new Promise<string>((resolve, reject) => {
      const seen = lines.find((l) => pattern.test(l));
      if (seen) return resolve(seen);
      waiters.push({ pattern, resolve });
      void exited.then((code) => reject(new Error(`the server exited (${code}) before printing ${pattern}; it printed:\n${lines.join('\n')}`)));
    });
  const listening = await line(/listening on (http:\/\/[\d.:]+)/);
  const url = /listening on (http:\/\/[\d.:]+)/.exec(listening)![1]!;
  return { child, url, dataDir: dir.path, lines, line, exited, signal: (s) => child.kill(s) };
}
