// What `npm run build` produces from which sources, and whether a build is missing or older than
// them. Plain JavaScript with no dependencies: `npm start` and the `sluice` bin read it before
// anything else is loaded, so it must stay cheap (a few hundred stat calls).
import { existsSync, readdirSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repository root (this file lives in scripts/). */
export const ROOT = dirname(dirname(fileURLToPath(import.meta.url)));

/** The parts of the build: two esbuild bundles (server, CLI) and the Vite build of the web app. */
export const PARTS = {
  server: {
    inputs: ['server', 'package.json', 'scripts/build.js'],
    outputs: ['dist/server/main.js', 'dist/server/page-worker.js', 'dist/server/sqlite-writer-thread.js'],
  },
  cli: {
    inputs: ['cli', 'package.json', 'scripts/build.js'],
    outputs: ['dist/cli/sluice.js'],
  },
  client: {
    inputs: ['client'],
    outputs: ['client/dist/index.html'],
  },
};

const SKIP = new Set(['dist', 'node_modules', '.cache']);

/** The newest modification time under a file or folder (0 when it does not exist). */
function newest(path) {
  let stat;
  try {
    stat = statSync(path);
  } catch {
    return 0;
  }
  if (!stat.isDirectory()) return stat.mtimeMs;
  let latest = stat.mtimeMs; // a deleted file changes its folder's time
  for (const entry of readdirSync(path, { withFileTypes: true })) {
    if (SKIP.has(entry.name)) continue;
    latest = Math.max(latest, newest(join(path, entry.name)));
  }
  return latest;
}

/** 'missing', 'stale' or 'fresh' for one part of the build. */
export function partState(name) {
  const part = PARTS[name];
  const outputs = part.outputs.map((p) => join(ROOT, p));
  if (!outputs.every((p) => existsSync(p))) return 'missing';
  const built = Math.min(...outputs.map((p) => statSync(p).mtimeMs));
  const sources = Math.max(...part.inputs.map((p) => newest(join(ROOT, p))));
  return sources > built ? 'stale' : 'fresh';
}

const TOOLS = { server: 'esbuild', cli: 'esbuild', client: 'vite' };

/** Whether the tool that builds this part (a dev dependency) is installed, so it can be built here. */
export function canBuild(name) {
  return existsSync(join(ROOT, 'node_modules', TOOLS[name], 'package.json'));
}
