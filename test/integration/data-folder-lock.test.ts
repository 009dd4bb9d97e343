import { spawn } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { defineJob } from '../../server/engine/job.ts';
import { startTestApp } from '../helpers/app.ts';
import { deferCleanup } from '../helpers/cleanup.ts';
import { startChildNode } from '../helpers/cluster.ts';
import { tempDir } from '../helpers/stores.ts';

// One embedded database, one process: a second process (or app) on the same data folder would requeue
// the first one's RUNNING work as orphaned. It refuses to start instead, and says why.

/** A job that runs until its signal fires. */
const untilAborted = defineJob({
  kind: 'CRAWL',
  resumable: true,
  run: (_input, ctx) => new Promise((_resolve, reject) => ctx.signal.addEventListener('abort', () => reject(ctx.signal.reason), { once: true })),
});

async function until(check: () => Promise<boolean>): Promise<void> {
  while (!(await check())) await new Promise((resolve) => setTimeout(resolve, 10));
}

/** Runs server/main.ts on `dataDir` to its exit; resolves with its exit code and what it printed. */
function runMain(dataDir: string): Promise<{ code: number | null; output: string }> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'server/main.ts'], {
    env: { ...process.env, PORT: '0', SLUICE_DATA_DIR: dataDir, DATABASE_URL: '', REDIS_URL: '', LOG_LEVEL: 'warn' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => {
    output += chunk.toString();
    if (output.includes('listening on')) child.kill('SIGKILL');
  });
  child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
  return new Promise((resolve) => child.once('exit', (code) => resolve({ code, output })));
}

describe('one process per SQLite data folder', () => {
  it('a second app on the folder refuses to start, and the first one keeps its running work', async () => {
    const dir = tempDir();
    deferCleanup(() => dir.remove());
    const first = await startTestApp({ dataDir: dir.path, jobs: [untilAborted] });
    deferCleanup(() => first.stop({ remove: false }));
    const execution = await first.app.engine.submit({ kind: 'CRAWL', title: 't', sessionId: null, input: {}, createdBy: null });
    await until(async () => (await first.app.store.getExecution(execution.id))?.status === 'RUNNING');

    await expect(startTestApp({ dataDir: dir.path, jobs: [untilAborted] })).rejects.toThrow(/data folder .* is in use by another app in this process/);

    expect(await first.app.store.getExecution(execution.id)).toMatchObject({ status: 'RUNNING', attempt: 1 });
    expect(first.app.engine.runningIds()).toEqual([execution.id]);
  });

  it('a second process on the folder exits 1 with a message naming the live one; after a kill -9 the folder can be taken again', async () => {
    const dir = tempDir();
    deferCleanup(() => dir.remove());
    const first = await startChildNode({ databaseUrl: '', redisUrl: '', redisPrefix: '' }, 'first', { SLUICE_DATA_DIR: dir.path, DATABASE_URL: '', REDIS_URL: '' });
    deferCleanup(() => first.kill());

    const second = await runMain(dir.path);
    expect(second.code).toBe(1);
    expect(second.output).toContain(`is in use by another Sluice process (pid ${first.child.pid})`);

    await first.kill('SIGKILL'); // leaves its lock file behind, with a pid that is no longer alive
    const third = await runMain(dir.path);
    expect(third.output).toContain('listening on');
  });
});
