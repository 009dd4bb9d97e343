#!/usr/bin/env node
// The `sluice` bin: runs the compiled CLI (dist/cli/sluice.js), building it first (esbuild, a few
// hundred ms) when it is missing or older than the sources and the build tools are installed.
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { canBuild, partState, ROOT } from '../scripts/build-state.js';

const state = partState('cli');
if (state !== 'fresh' && canBuild('cli')) {
  // Quiet unless it fails: stdout and stderr stay the command's own (`id=$(sluice crawl ...)`).
  const build = spawnSync(process.execPath, [join(ROOT, 'scripts/build.js'), 'cli'], { stdio: ['ignore', 'pipe', 'pipe'] });
  if (build.status !== 0) {
    process.stderr.write(build.stdout);
    process.stderr.write(build.stderr);
    process.exit(build.status ?? 1);
  }
} else if (state === 'missing') {
  console.error('sluice is not built (dist/cli/sluice.js is missing) and esbuild is not installed: run `npm install`, then `npm run build`.');
  process.exit(1);
}
await import(pathToFileURL(join(ROOT, 'dist/cli/sluice.js')).href);
