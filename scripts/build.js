#!/usr/bin/env node
// `npm run build`: the server and the CLI bundled by esbuild into dist/ (one ES module each, with
// the npm code they use inside, but for a few packages that must stay in node_modules), the web
// client by Vite into client/dist. `node scripts/build.js server` (or `cli`, `client`) builds one
// part. Needs the dev dependencies; running the result needs only the others.
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { builtinModules } from 'node:module';
import { dirname, join, relative } from 'node:path';
import { ROOT } from './build-state.js';

const packageJson = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8'));

/** The commit being built, when this is a git checkout with git installed; '' otherwise. */
function commit() {
  if (process.env.SLUICE_COMMIT) return process.env.SLUICE_COMMIT;
  try {
    return execFileSync('git', ['rev-parse', '--short=12', 'HEAD'], { cwd: ROOT, stdio: ['ignore', 'pipe', 'ignore'] })
      .toString()
      .trim();
  } catch {
    return '';
  }
}

/** The npm package an import names ('@scope/name/sub' -> '@scope/name'), or null for node: and relative ones. */
function packageOf(path) {
  if (path.startsWith('.') || path.startsWith('/') || path.startsWith('node:') || builtinModules.includes(path)) return null;
  const parts = path.split('/');
  return path.startsWith('@') ? parts.slice(0, 2).join('/') : parts[0];
}

// Packages left as imports that Node resolves from node_modules at run time, because they need their
// own files there: a native addon, worker threads loaded by file name (pino's transports, piscina's
// workers), a package that reads
// its package.json through __dirname, and GraphiQL, loaded only when someone opens it.
const SERVER_EXTERNAL = ['better-sqlite3', 'pino', 'pino-pretty', 'piscina', 'ioredis', '@graphql-yoga/render-graphiql'];
// Optional native speed-ups and add-ons that packages try to require and do without.
const OPTIONAL = ['pg-native', 'bufferutil', 'utf-8-validate'];
// Bundled CommonJS code calls require(); an ES module has none unless it makes one.
const REQUIRE_BANNER = "import { createRequire as __createRequire } from 'node:module'; const require = __createRequire(import.meta.url);";

/** Options both bundles share: one ES module per entry point, with the npm code it uses inside. */
function bundle(entryPoints, external) {
  return {
    absWorkingDir: ROOT,
    entryPoints,
    outdir: 'dist',
    outbase: '.',
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20.19',
    external: [...external, ...OPTIONAL],
    banner: { js: REQUIRE_BANNER },
    sourcemap: 'linked',
    sourcesContent: false,
    logLevel: 'warning',
    metafile: true,
    write: false,
    // sluice_build_info's commit label (the version comes from package.json, bundled).
    define: { 'process.env.SLUICE_BUILD_COMMIT': JSON.stringify(commit()) },
  };
}

// Dev dependencies our code may import because the bundle carries all it uses of them: gql.tada's
// run-time part is a small document builder (inside dist/cli), while the package itself brings
// TypeScript and a language server, which a production install has no use for.
const BUNDLED_DEV = ['gql.tada'];

/**
 * The packages our own code imports (not those inside node_modules) and the ones left external:
 * each must be in "dependencies", or the build would run here and fail after `npm ci --omit=dev`.
 * An external one must be there whatever BUNDLED_DEV says.
 */
function checkDependencies(metafile) {
  const runtime = new Set([...Object.keys(packageJson.dependencies ?? {}), ...OPTIONAL]);
  const bundledDev = new Set(BUNDLED_DEV.filter((name) => packageJson.devDependencies?.[name]));
  const used = new Set();
  for (const [file, input] of Object.entries(metafile.inputs)) {
    if (file.includes('node_modules/')) continue;
    for (const entry of input.imports) {
      const name = packageOf(entry.original ?? entry.path);
      if (!bundledDev.has(name)) used.add(name);
    }
  }
  for (const output of Object.values(metafile.outputs)) {
    for (const entry of output.imports) if (entry.external) used.add(packageOf(entry.path));
  }
  used.delete(null);
  const missing = [...used].filter((name) => !runtime.has(name)).sort();
  if (missing.length > 0) {
    throw new Error(`the server or CLI imports ${missing.join(', ')}, not in "dependencies" of package.json`);
  }
}

/** One esbuild bundle, checked and written into place. */
async function buildBundle(entryPoints, external, extra = {}) {
  const { build } = await import('esbuild');
  const started = performance.now();
  const result = await build({ ...bundle(entryPoints, external), ...extra });
  checkDependencies(result.metafile);
  // Written beside and renamed into place, so a process starting meanwhile never reads half a file.
  for (const file of result.outputFiles) {
    mkdirSync(dirname(file.path), { recursive: true });
    const temporary = `${file.path}.${process.pid}.tmp`;
    writeFileSync(temporary, file.contents);
    renameSync(temporary, file.path);
  }
  const files = result.outputFiles.filter((f) => f.path.endsWith('.js')).map((f) => `${relative(ROOT, f.path)} (${(f.contents.length / 2 ** 20).toFixed(1)} MiB)`);
  console.log(`built ${files.join(', ')} in ${Math.round(performance.now() - started)} ms (esbuild)`);
}

async function buildClient() {
  const { build } = await import('vite');
  const started = performance.now();
  await build({ configFile: join(ROOT, 'client/vite.config.ts'), logLevel: 'warn' });
  console.log(`built client/dist in ${Math.round(performance.now() - started)} ms (vite)`);
}

const builders = {
  // The page-pool worker is a bundle of its own, beside main.js, where server/jobs/crawl/page-pool.ts looks.
  server: () => buildBundle(['server/main.ts', { in: 'server/jobs/crawl/page-worker.ts', out: 'server/page-worker' }, { in: 'server/store/sqlite/sqlite-writer-thread.ts', out: 'server/sqlite-writer-thread' }], SERVER_EXTERNAL),
  // The CLI bundles all it uses (graphql-ws, ws): one file to parse instead of package trees to
  // resolve is what lets `sluice --help` answer in about 100 ms.
  // ES module builds first where packages have one (graphql's lets the bundle keep `print` and drop
  // the rest); every package is inside this bundle, so no second copy can be loaded beside it.
  cli: () => buildBundle(['cli/sluice.ts'], [], { mainFields: ['module', 'main'] }),
  client: buildClient,
};
const asked = process.argv.slice(2);
const unknown = asked.filter((name) => !(name in builders));
if (unknown.length > 0) {
  console.error(`usage: node scripts/build.js [server] [cli] [client]  (unknown: ${unknown.join(' ')})`);
  process.exit(2);
}
try {
  for (const name of asked.length > 0 ? asked : Object.keys(builders)) await builders[name]();
} catch (error) {
  console.error(`build failed: ${error instanceof Error ? error.message : String(error)}`);
  process.exit(1);
}
