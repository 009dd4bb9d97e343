// npm run chaos -- --seeds N [--from S] [--seed S] [--store sqlite|postgres|both] [--family engine|process]
//                  [--parallel P] [--max-seconds T] [--print] [--quiet]
// Runs N seeded fault schedules per store and prints schedules run, invariants checked, violations
// (each with its seed and schedule, to replay with --seed), and the cancel latencies measured.
import { parseArgs } from 'node:util';
import { describeSchedule, scheduleFor, TIMING, type Dialect, type Family } from './schedule.ts';
import { CANCEL_SLACK_MS } from './harness.ts';
import { stallSummary } from './diagnose.ts';
import { percentiles, runSeeds } from './runner.ts';

const { values } = parseArgs({
  options: {
    seeds: { type: 'string', default: '20' },
    from: { type: 'string', default: '1' },
    seed: { type: 'string' },
    store: { type: 'string', default: 'both' },
    family: { type: 'string', default: 'engine' },
    parallel: { type: 'string', default: '2' },
    print: { type: 'boolean', default: false },
    quiet: { type: 'boolean', default: false },
    'max-seconds': { type: 'string' },
  },
});

const stores: Dialect[] = values.store === 'both' ? ['sqlite', 'postgres'] : [values.store as Dialect];
const family = values.family as Family;
const seeds = values.seed !== undefined ? [Number(values.seed)] : Array.from({ length: Number(values.seeds) }, (_, i) => Number(values.from) + i);

if (values.print) {
  for (const dialect of stores) for (const seed of seeds) console.log(describeSchedule(scheduleFor(seed, dialect, family)));
  process.exit(0);
}

let failed = false;
console.log(`bound checked: accepted cancel -> CANCELLED within grace ${TIMING.cancelGraceMs} ms + heartbeat ${TIMING.heartbeatMs} ms (+ ${CANCEL_SLACK_MS} ms slack for a loaded machine)`);
for (const dialect of stores) {
  let done = 0;
  const summary = await runSeeds(seeds, dialect, {
    family,
    parallel: Number(values.parallel),
    maxSeconds: values['max-seconds'] ? Number(values['max-seconds']) : undefined,
    onReport: (r) => {
      done++;
      if (!values.quiet && (r.violations.length || done % 25 === 0))
        console.log(`  ${dialect} ${done}/${seeds.length} seed ${r.seed}: ${r.violations.length ? `${r.violations.length} violation(s)` : 'ok'} (${r.durationMs} ms)`);
    },
  });
  const ok = percentiles(summary.cancelLatenciesMs);
  const faulted = percentiles(summary.faultedCancelLatenciesMs);
  console.log(
    `${dialect}/${family}: ${summary.schedules} schedules run, ${summary.executions} executions (${summary.pauses} paused, ${summary.resumes} resumed), ${summary.checks} invariants checked, ` +
      `${summary.storeFaults} store faults injected, ${summary.failures.length} schedule(s) with violations, ${(summary.durationMs / 1000).toFixed(1)} s`,
  );
  console.log(`  cancel -> CANCELLED (no fault overlapping): n=${ok.n} p50=${ok.p50} ms p95=${ok.p95} ms max=${ok.max} ms`);
  console.log(`  cancel -> CANCELLED (a fault overlapping):  n=${faulted.n} p50=${faulted.p50} ms p95=${faulted.p95} ms max=${faulted.max} ms`);
  console.log(`  this process so far: ${stallSummary()}`);
  for (const f of summary.failures) {
    failed = true;
    console.log(`  VIOLATION seed ${f.seed} (replay: npm run chaos -- --store ${dialect} --family ${family} --seed ${f.seed})`);
    for (const v of f.violations) console.log(`    - ${v}`);
  }
}
process.exit(failed ? 1 : 0);
