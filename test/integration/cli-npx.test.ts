// `npx sluice` in the checkout, the way the README shows it: npm finds the package's own bin
// (cli/sluice.js), which runs the compiled CLI (building it first when it is missing or stale).
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { startTestApp } from '../helpers/app.ts';
import { deferCleanup, siteForTest } from '../helpers/cleanup.ts';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

/** Runs `npx sluice <args>` in the repository; resolves with its exit code and output. */
function npxSluice(args: string[], env: Record<string, string> = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    // npm_config_yes=false: were the local bin not found, npx must fail rather than fetch a
    // package of that name from the registry.
    const child = spawn('npx', ['sluice', ...args], { cwd: ROOT, env: { ...process.env, npm_config_yes: 'false', SLUICE_TOKEN: '', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    child.once('error', reject);
    child.once('close', (code) => resolve({ code: code ?? -1, stdout, stderr }));
  });
}

describe('npx sluice', () => {
  it('answers --help', async () => {
    const { code, stdout } = await npxSluice(['--help']);
    expect(code).toBe(0);
    expect(stdout).toMatch(/^Usage: sluice <command>/m);
  });

  it('starts a crawl, watches it to the end, and lists it, against a running server', async () => {
    const site = await siteForTest({ pages: 3 });
    const app = await startTestApp();
    deferCleanup(() => app.stop());
    const env = { SLUICE_URL: app.url };
    const crawl = await npxSluice(['crawl', `${site.url}/`], env);
    expect(crawl.code).toBe(0);
    const id = crawl.stdout.trim(); // alone on stdout, so id=$(npx sluice crawl ...) works
    expect((await npxSluice(['watch', id], env)).code).toBe(0);
    const { data } = await app.gql('query ($id: ID!) { execution(id: $id) { status progress { pagesFetched } } }', { id });
    expect(data!.execution).toEqual({ status: 'SUCCEEDED', progress: { pagesFetched: 3 } });
    const ls = await npxSluice(['ls', '--all'], env);
    expect(ls.code).toBe(0);
    expect(ls.stdout).toContain(id);
  });
});
