// Builds the Vue client with Vite's API when client/dist is missing or older than its sources,
// so the browser tests always run against the code in the tree.
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { build } from 'vite';

const clientDir = resolve('client');
const distDir = join(clientDir, 'dist');

function newestSourceMtime(dir: string): number {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    if (entry.name === 'dist' || entry.name === 'node_modules') continue;
    const path = join(dir, entry.name);
    newest = Math.max(newest, entry.isDirectory() ? newestSourceMtime(path) : statSync(path).mtimeMs);
  }
  return newest;
}

/** Returns the folder of the built client, building it first if needed. */
export async function ensureClientBuilt(): Promise<string> {
  const index = join(distDir, 'index.html');
  const fresh = existsSync(index) && statSync(index).mtimeMs >= newestSourceMtime(clientDir);
  if (!fresh) await build({ configFile: join(clientDir, 'vite.config.ts'), logLevel: 'warn' });
  return distDir;
}
