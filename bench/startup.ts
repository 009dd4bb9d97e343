// bench:startup — how fast a node is ready and how much memory it holds at idle, for the built path
// (`node dist/server/main.js`, and `npm start` in front of it) next to the path `npm start` took
// before the build existed (tsx running the TypeScript sources, after a Vite build of the client);
// and how fast `sluice --help` answers, compiled and through tsx. Every server runs as a real child
// process on port 0 with an empty data folder; start-to-ready is from spawn to the first 200 of
// /readyz (polled every 10 ms on fresh connections); RSS is the server process's VmRSS.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import http from 'node:http';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { partState } from '../scripts/build-state.js';
import { tempDir } from '../test/helpers/stores.ts';
import { intOption, machine, percentile } from './lib.ts';

const runs = intOption('runs', 3);
const cliRuns = intOption('cli-runs', 5);
const idleSeconds = intOption('idle-seconds', 30);
const withVite = intOption('with-vite', 1) === 1;

const TARGET_READY_MS = 1000;
const TARGET_RSS_MB = 120;
const TARGET_HELP_MS = 200;

interface Variant {
  name: string;
  command: string[];
  /** Runs of this variant (the old `npm start` rebuilds the client every time: once is enough). */
  runs: number;
}

const viteOut = tempDir('sluice-bench-vite-');
const variants: Variant[] = [
  { name: 'built: node dist/server/main.js', command: [process.execPath, 'dist/server/main.js'], runs },
  { name: 'built: npm start (checks the build, then the same)', command: ['npm', 'start', '--silent'], runs },
  { name: 'before: node --import tsx server/main.ts', command: [process.execPath, '--import', 'tsx', 'server/main.ts'], runs },
  ...(withVite
    ? [
        {
          name: 'before: npm start (vite build, then tsx)',
          command: ['sh', '-c', `npx vite build --config client/vite.config.ts --logLevel error --emptyOutDir --outDir ${viteOut.path} && exec node --import tsx server/main.ts`],
          runs: 1,
        },
      ]
    : []),
];

interface Started {
  child: ChildProcess;
  readyMs: number;
  dataDir: { path: string; remove(): void };
  exited: Promise<void>;
}

/** The process serving HTTP: the deepest descendant of `pid` (npm and sh stand in front of it). */
function serverPid(pid: number): number {
  for (;;) {
    let children: number[] = [];
    try {
      children = readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);
    } catch {
      return pid;
    }
    if (children.length === 0) return pid;
    pid = children[children.length - 1]!;
  }
}

function rssMb(pid: number): number {
  const match = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${serverPid(pid)}/status`, 'utf8'));
  return match ? Number(match[1]) / 1024 : Number.NaN;
}

function readyz(port: number): Promise<number> {
  return new Promise((resolve) => {
    const req = http.get({ host: '127.0.0.1', port, path: '/readyz', agent: false }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('error', () => resolve(0));
  });
}

/** Spawns the variant and resolves once /readyz answers 200. */
async function start(variant: Variant): Promise<Started> {
  const dataDir = tempDir('sluice-bench-startup-');
  const began = performance.now();
  const child = spawn(variant.command[0]!, variant.command.slice(1), {
    env: { ...process.env, PORT: '0', SLUICE_DATA_DIR: dataDir.path, LOG_LEVEL: 'warn' },
    stdio: ['ignore', 'pipe', 'inherit'],
    detached: true, // its own process group: npm's children go with it
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  let text = '';
  const port = await new Promise<number>((resolve, reject) => {
    child.stdout!.on('data', (chunk: Buffer) => {
      text += chunk.toString('utf8');
      const match = /listening on http:\/\/[\d.]+:(\d+)/.exec(text);
      if (match) resolve(Number(match[1]));
    });
    void exited.then(() => reject(new Error(`${variant.name} exited before it was listening:\n${text}`)));
  });
  while ((await readyz(port)) !== 200) await new Promise((resolve) => setTimeout(resolve, 10));
  return { child, readyMs: performance.now() - began, dataDir, exited };
}

async function stop(s: Started): Promise<void> {
  try {
    process.kill(-s.child.pid!, 'SIGTERM');
  } catch {
    // already gone
  }
  await s.exited;
  s.dataDir.remove();
}

/** Wall time of a command, in ms (best and median of `n` runs); exit code must be 0. */
function timeCommand(command: string[], n: number): { best: number; median: number } {
  const times: number[] = [];
  for (let i = 0; i < n; i++) {
    const began = performance.now();
    const result = spawnSync(command[0]!, command.slice(1), { stdio: ['ignore', 'ignore', 'pipe'] });
    if (result.status !== 0) throw new Error(`${command.join(' ')} exited ${result.status}: ${result.stderr}`);
    times.push(performance.now() - began);
  }
  return { best: Math.min(...times), median: percentile(times, 50) };
}

const fmt = (ms: number) => `${(ms / 1000).toFixed(2)} s`;
const verdict = (ok: boolean) => (ok ? 'met' : 'NOT met');

async function main(): Promise<void> {
  console.log(`bench:startup  ${runs} runs per server path, ${cliRuns} per CLI command, ${idleSeconds} s idle before the idle RSS`);
  console.log(`machine: ${machine()}; load average ${loadavg().map((l) => l.toFixed(1)).join(' ')}`);
  // Every part fresh first, so `npm start` measures its check, not a build.
  for (const part of ['server', 'cli', 'client'] as const) {
    if (partState(part) === 'fresh') continue;
    const build = spawnSync(process.execPath, ['scripts/build.js', part], { stdio: 'inherit' });
    if (build.status !== 0) throw new Error(`node scripts/build.js ${part} failed`);
  }

  const rows: { name: string; ready: number[]; rssAtReady: number; idle: Started }[] = [];
  for (const variant of variants) {
    const ready: number[] = [];
    let kept: Started | null = null;
    let rssAtReady = Number.NaN;
    for (let i = 0; i < variant.runs; i++) {
      const s = await start(variant);
      ready.push(s.readyMs);
      if (i === variant.runs - 1) {
        kept = s; // the last one stays up for the idle measurement
        rssAtReady = rssMb(s.child.pid!);
      } else await stop(s);
    }
    rows.push({ name: variant.name, ready, rssAtReady, idle: kept! });
    console.log(`  ${variant.name}: ready after ${ready.map(fmt).join(', ')}`);
  }
  // All kept servers idle together (idle processes barely disturb each other), then RSS is read.
  await new Promise((resolve) => setTimeout(resolve, idleSeconds * 1000));
  const idleRss = rows.map((r) => rssMb(r.idle.child.pid!));
  await Promise.all(rows.map((r) => stop(r.idle)));
  viteOut.remove();

  console.log('');
  console.log('server path                                              start to ready (median / best)   RSS at ready   RSS after idle');
  rows.forEach((r, i) => {
    console.log(
      `${r.name.padEnd(56)} ${`${fmt(percentile(r.ready, 50))} / ${fmt(Math.min(...r.ready))}`.padEnd(32)} ${`${r.rssAtReady.toFixed(0)} MB`.padEnd(14)} ${idleRss[i]!.toFixed(0)} MB`,
    );
  });

  const help = [
    { name: 'built: node dist/cli/sluice.js --help', command: [process.execPath, 'dist/cli/sluice.js', '--help'] },
    { name: 'built: node cli/sluice.js --help (the bin: checks the build first)', command: [process.execPath, 'cli/sluice.js', '--help'] },
    { name: 'built: npx sluice --help (npm finds the bin, then the same)', command: ['npx', 'sluice', '--help'] },
    { name: 'before: node --import tsx cli/sluice.ts --help', command: [process.execPath, '--import', 'tsx', join('cli', 'sluice.ts'), '--help'] },
    { name: 'baseline: node -e 0 (Node.js itself)', command: [process.execPath, '-e', '0'] },
  ].map((h) => ({ ...h, ...timeCommand(h.command, cliRuns) }));
  console.log('');
  console.log('CLI                                                               median     best');
  for (const h of help) console.log(`${h.name.padEnd(65)} ${fmt(h.median).padEnd(10)} ${fmt(h.best)}`);

  const built = rows[0]!;
  const bin = help[1]!;
  console.log('');
  console.log(`target start to ready <= ${TARGET_READY_MS / 1000} s (built, median): ${fmt(percentile(built.ready, 50))}: ${verdict(percentile(built.ready, 50) <= TARGET_READY_MS)}`);
  console.log(`target idle RSS <= ${TARGET_RSS_MB} MB (built): ${built.rssAtReady.toFixed(0)} MB at ready, ${idleRss[0]!.toFixed(0)} MB after ${idleSeconds} s idle: ${verdict(idleRss[0]! <= TARGET_RSS_MB)}`);
  const node = help.at(-1)!;
  console.log(`target sluice --help <= ${TARGET_HELP_MS} ms (the bin, median): ${fmt(bin.median)} (Node.js alone: ${fmt(node.median)}): ${verdict(bin.median <= TARGET_HELP_MS)}`);
  console.log(`load average at the end ${loadavg().map((l) => l.toFixed(1)).join(' ')}`);
}

try {
  await main();
} catch (error) {
  console.error(error instanceof Error ? error.message : error);
  process.exitCode = 1;
}
