import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { describe, expect, it } from 'vitest';
import { deferCleanup } from '../helpers/cleanup.ts';
import { tempDir } from '../helpers/stores.ts';

// A rejection nothing handled (a bug somewhere: a timer, a scrape, a heartbeat) is logged and counted by
// the process-level handler main.ts installs; the node keeps serving instead of exiting and orphaning
// every execution it runs.

describe('an unhandled promise rejection in a running node', () => {
  it('is counted in /metrics and logged, and the node keeps serving', async () => {
    const dir = tempDir();
    deferCleanup(() => dir.remove());
    // The real server/main.ts, plus one rejection nobody handles, made on purpose once it listens.
    const script = `await import('./server/main.ts'); setTimeout(() => Promise.reject(new Error('nobody handles this')), 50);`;
    const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
      env: { ...process.env, PORT: '0', SLUICE_DATA_DIR: dir.path, DATABASE_URL: '', REDIS_URL: '', LOG_LEVEL: 'error' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    deferCleanup(async () => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      await exited;
    });
    let logged = '';
    child.stderr.on('data', (chunk: Buffer) => (logged += chunk.toString()));
    const lines = createInterface({ input: child.stdout });
    let url = '';
    for await (const line of lines) {
      logged += `${line}\n`;
      const match = /listening on (http:\/\/[\d.:]+)/.exec(line);
      if (match) {
        url = match[1]!;
        break;
      }
    }
    lines.on('line', (line) => (logged += `${line}\n`));
    expect(url).not.toBe('');

    // Wait for the counter (or for the process to die, which is the failure this guards against).
    let counted = 0;
    while (child.exitCode === null && counted === 0) {
      const text = await fetch(`${url}/metrics`).then((r) => r.text(), () => '');
      counted = Number(/^sluice_unhandled_rejections_total (\d+)/m.exec(text)?.[1] ?? 0);
      if (counted === 0) await new Promise((resolve) => setTimeout(resolve, 20));
    }

    expect(child.exitCode).toBeNull();
    expect(counted).toBe(1);
    expect((await fetch(`${url}/livez`)).status).toBe(200);
    expect(logged).toContain('a promise rejection was not handled');
  });
});
