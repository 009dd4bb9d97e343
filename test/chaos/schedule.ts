// A fault schedule: everything a run does, drawn from its seed before it starts, so the same seed
// gives the same schedule (print it with `npm run chaos -- --seed N --print`).
import type { FaultRates } from './fault-store.ts';
import { createRng, type Rng } from './prng.ts';

export type Dialect = 'sqlite' | 'postgres';
/** engine: in-process nodes behind the fault-injecting store; process: child-process nodes, killed for real. */
export type Family = 'engine' | 'process';

export type Step =
  | { op: 'start'; crawl: number }
  | { op: 'cancel'; crawl: number }
  | { op: 'cancelAll' }
  | { op: 'pause'; crawl: number }
  | { op: 'resume'; crawl: number }
  | { op: 'pauseAll' }
  | { op: 'resumeAll' }
  | { op: 'subscribe'; client: number; crawl: number; fromStart: boolean }
  | { op: 'leave'; client: number }
  | { op: 'reconnect'; client: number }
  | { op: 'rates'; node: number; rates: FaultRates }
  | { op: 'partition'; node: number; ms: number }
  | { op: 'restart'; node: number; downMs: number }
  | { op: 'kill'; node: number; signal: 'SIGTERM' | 'SIGKILL'; downMs: number }
  | { op: 'dropConnections'; node: number }
  | { op: 'restartRedis'; downMs: number };

export interface Schedule {
  seed: number;
  dialect: Dialect;
  family: Family;
  nodes: number;
  /** Crawls, each of a site of its own (so its pages, chunks and requests are its own). */
  crawls: { pages: number; delayMs: number }[];
  clients: number;
  /** Each step waits `gapMs` after the previous one started; steps overlap (none is awaited). */
  steps: { gapMs: number; step: Step }[];
}

export const TIMING = { cancelGraceMs: 200, heartbeatMs: 100, leaseMs: 500, progressIntervalMs: 30 } as const;

/** The schedule of `seed` on `dialect`. */
export function scheduleFor(seed: number, dialect: Dialect, family: Family = 'engine'): Schedule {
  const rng = createRng(seed).fork(`${dialect}/${family}`);
  const nodes = dialect === 'sqlite' ? 1 : rng.int(2, 3);
  const crawls = Array.from({ length: rng.int(2, 5) }, () => ({ pages: rng.int(6, 20), delayMs: rng.int(5, 40) }));
  const clients = rng.int(1, 3);
  const steps: Schedule['steps'] = [];
  const add = (step: Step, gapMs = rng.int(0, 60)): void => void steps.push({ gapMs, step });

  // Every crawl starts, some subscriptions watch from the start, then things go wrong.
  crawls.forEach((_, crawl) => add({ op: 'start', crawl }, rng.int(0, 20)));
  for (let client = 0; client < clients; client++) add({ op: 'subscribe', client, crawl: rng.int(0, crawls.length - 1), fromStart: true }, 0);

  // Pause and resume, drawn from a stream of their own so the rest of a seed's schedule keeps its shape.
  const pausing = rng.fork('pause');
  const count = rng.int(6, 14);
  for (let i = 0; i < count; i++) {
    const node = rng.int(0, nodes - 1);
    if (pausing.chance(0.5)) addPauseStep(pausing, add, crawls.length, node, dialect, family);
    const roll = rng.next();
    if (roll < 0.25) add({ op: 'cancel', crawl: rng.int(0, crawls.length - 1) });
    else if (roll < 0.3) add({ op: 'cancelAll' });
    else if (roll < 0.38) add({ op: 'subscribe', client: rng.int(0, clients - 1), crawl: rng.int(0, crawls.length - 1), fromStart: rng.chance(0.5) });
    else if (roll < 0.44) add({ op: 'leave', client: rng.int(0, clients - 1) });
    else if (roll < 0.5) add({ op: 'reconnect', client: rng.int(0, clients - 1) });
    else if (roll < 0.62) {
      const rates = { delay: rng.next() * 0.5, maxDelayMs: rng.int(1, 40), failBefore: rng.next() * 0.08, failAfter: rng.next() * 0.04 };
      add({ op: 'rates', node, rates });
    } else if (roll < 0.7) add({ op: 'partition', node, ms: rng.int(50, 700) });
    else if (roll < 0.78) add({ op: family === 'process' ? 'kill' : 'restart', node, signal: rng.pick(['SIGTERM', 'SIGKILL'] as const), downMs: rng.int(0, 300) } as Step);
    else if (roll < 0.88 && dialect === 'postgres') add({ op: 'dropConnections', node });
    else if (roll < 0.94 && dialect === 'postgres') add({ op: 'restartRedis', downMs: rng.int(0, 300) });
    else add({ op: 'start', crawl: rng.int(0, crawls.length - 1) });
  }
  // Half the seeds resume whatever is paused before the end: a resumed crawl then runs to its end (or the final cancel).
  if (pausing.chance(0.5)) add({ op: 'resumeAll' }, pausing.int(0, 60));
  return { seed, dialect, family, nodes, crawls, clients, steps };
}

/**
 * A pause or a resume, alone or racing (0-5 ms apart, neither awaited) with what can go wrong at that
 * moment: a cancel of the same crawl, its resume, a node stop, a partition, a lost answer.
 */
function addPauseStep(
  rng: Rng,
  add: (step: Step, gapMs?: number) => void,
  crawls: number,
  node: number,
  dialect: Dialect,
  family: Family,
): void {
  const crawl = rng.int(0, crawls - 1);
  const roll = rng.next();
  if (roll < 0.3) return add({ op: 'pause', crawl }, rng.int(0, 60));
  if (roll < 0.5) return add({ op: 'resume', crawl }, rng.int(0, 60));
  if (roll < 0.58) return add({ op: 'pauseAll' }, rng.int(0, 60));
  if (roll < 0.64) return add({ op: 'resumeAll' }, rng.int(0, 60));
  add({ op: 'pause', crawl }, rng.int(0, 60));
  const race = rng.next();
  const gap = rng.int(0, 5);
  if (race < 0.3) add({ op: 'cancel', crawl }, gap);
  else if (race < 0.55) add({ op: 'resume', crawl }, gap);
  else if (race < 0.75) add({ op: family === 'process' ? 'kill' : 'restart', node, signal: rng.pick(['SIGTERM', 'SIGKILL'] as const), downMs: rng.int(0, 300) } as Step, gap);
  else if (race < 0.9) add({ op: 'partition', node, ms: rng.int(50, 400) }, gap);
  else if (dialect === 'postgres') add({ op: 'dropConnections', node }, gap);
  else add({ op: 'rates', node, rates: { delay: 0.3, maxDelayMs: 20, failBefore: 0.05, failAfter: 0.05 } }, gap);
}

/** One line per step, for a report or a replay. */
export function describeSchedule(s: Schedule): string {
  const head = `seed ${s.seed} ${s.dialect}/${s.family}: ${s.nodes} node(s), ${s.crawls.length} crawls, ${s.clients} client(s)`;
  return [head, ...s.steps.map(({ gapMs, step }) => `  +${gapMs}ms ${JSON.stringify(step)}`)].join('\n');
}
