#!/usr/bin/env node
// `npm start`: builds what is missing or older than its sources (only where the build tools are
// installed), then runs the compiled server in this same process, so signals reach it directly.
// A deployment can run `node dist/server/main.js` itself and skip the check.
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { canBuild, partState, ROOT } from './build-state.js';

const states = { server: partState('server'), client: partState('client') };
const outdated = Object.keys(states).filter((name) => states[name] !== 'fresh');
const buildable = outdated.filter((name) => canBuild(name));
if (buildable.length > 0) {
  console.error(`building ${buildable.map((name) => `${name} (${states[name]})`).join(', ')} ...`);
  const build = spawnSync(process.execPath, [join(ROOT, 'scripts/build.js'), ...buildable], { stdio: 'inherit' });
  if (build.status !== 0) process.exit(build.status ?? 1);
}
for (const name of outdated.filter((n) => !buildable.includes(n))) {
  if (name === 'server' && states.server === 'missing') {
    console.error('Sluice is not built (dist/server/main.js is missing) and esbuild is not installed: run `npm install`, then `npm run build`.');
    process.exit(1);
  }
  console.error(`note: the ${name} build is ${states[name]} and its build tool is not installed; running it as it is.`);
}

process.setSourceMapsEnabled(true);
await import(pathToFileURL(join(ROOT, 'dist/server/main.js')).href);
