// The `sluice` command line, run as a real child process against the real server and a local site.
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { beforeEach, describe, expect, it } from 'vitest';
import type { Site } from '../fixtures/site.ts';
import { appForTest, CANCEL, START_CRAWL, type TestApp } from '../helpers/app.ts';
import { startTcpProxy } from '../fixtures/tcp-proxy.ts';
import { deferCleanup, siteForTest } from '../helpers/cleanup.ts';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const BIN = 'cli/sluice.js';

interface Run {
  child: ChildProcess;
  stdout: () => string;
  stderr: () => string;
  /** Resolves with the exit code. */
  exited: Promise<number>;
  /** Resolves once stdout has a line matching `pattern`. */
  line(pattern: RegExp): Promise<string>;
}

// The current test's app and site (each test starts its own; the cleanup registry closes them).
let app: TestApp | undefined;
let site: Site | undefined;
beforeEach(() => {
  app = site = undefined;
});

/** Runs `sluice <args>` against the test server (or `env.SLUICE_URL`). */
function sluice(args: string[], env: Record<string, string> = {}): Run {
  const child = spawn(process.execPath, [BIN, ...args], {
    cwd: ROOT,
    env: { ...process.env, SLUICE_URL: app?.url ?? '', SLUICE_TOKEN: '', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  const waiters: { pattern: RegExp; resolve: (line: string) => void }[] = [];
  const check = () => {
    for (const w of [...waiters]) {
      const found = out.split('\n').find((l) => w.pattern.test(l));
      if (found !== undefined) {
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve(found);
      }
    }
  };
  child.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
    out += chunk;
    check();
  });
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => (err += chunk));
  const exited = new Promise<number>((resolve) => child.on('close', (code, signal) => resolve(code ?? (signal ? 128 : -1))));
  const run: Run = {
    child,
    stdout: () => out,
    stderr: () => err,
    exited,
    line: (pattern) =>
      new Promise((resolve, reject) => {
        waiters.push({ pattern, resolve });
        check();
        void exited.then(() => reject(new Error(`exited before printing ${pattern}:\n${out}\n${err}`)));
      }),
  };
  deferCleanup(() => {
    if (child.exitCode === null) child.kill('SIGKILL');
  });
  return run;
}

/** A TCP proxy in front of the test server, to cut the CLI's connections; closed after the test. */
async function startProxy(target: string): Promise<{ url: string; dropAll(): void }> {
  const { hostname, port } = new URL(target);
  const proxy = await startTcpProxy(hostname, Number(port));
  deferCleanup(() => proxy.close());
  return { url: `http://127.0.0.1:${proxy.port}`, dropAll: () => void proxy.dropAll() };
}

/** Starts a crawl of a site whose pages never answer in time, and waits until it is fetching. */
async function startStuckCrawl(sessionId?: string): Promise<string> {
  site ??= await siteForTest({ pages: 5, delayMs: 60_000 });
  const started = await app!.gql(START_CRAWL, { input: { url: site.url, sessionId } });
  const id = started.data!.startCrawl.id as string;
  await site.waitFor(() => site!.inFlight() > 0);
  return id;
}

describe('sluice CLI', () => {
  it('crawl --follow streams the events and exits 0 with the final counts', async () => {
    site = await siteForTest({ pages: 13 });
    app = await appForTest();
    const run = sluice(['crawl', site.url, '--follow', '--depth', '2', '--max-pages', '50']);
    expect(await run.exited).toBe(0);
    expect(run.stdout()).toMatch(/^Crawl \S+ started: http:\/\/127\.0\.0\.1/m);
    expect(run.stdout()).toMatch(/^#1 STATUS/m);
    expect(run.stdout()).toMatch(/^SUCCEEDED in [\d.]+s: 13 pages fetched of 13 discovered, 0 failed, \d+ skipped, \d+ chunks stored$/m);
  });

  it('crawl --json prints the new execution with its id', async () => {
    site = await siteForTest({ pages: 3 });
    app = await appForTest();
    const run = sluice(['crawl', site.url, '--json', '--include', `${site.url}/**`, '--no-robots', '--session', 'cli-s']);
    expect(await run.exited).toBe(0);
    const printed = JSON.parse(run.stdout()) as { id: string; kind: string; sessionId: string };
    expect(printed).toMatchObject({ kind: 'CRAWL', sessionId: 'cli-s' });
    const found = await app.gql(`query ($id: ID!) { execution(id: $id) { id title } }`, { id: printed.id });
    expect(found.data!.execution).toEqual({ id: printed.id, title: `${site.url}/` });
  });

  it('ls lists a running crawl as a table and as JSON', async () => {
    app = await appForTest();
    const id = await startStuckCrawl();
    const table = sluice(['ls']);
    expect(await table.exited).toBe(0);
    const [header, row] = table.stdout().trim().split('\n');
    expect(header).toMatch(/^ID\s+KIND\s+STATUS\s+PERCENT\s+PAGES\s+AGE\s+TITLE$/);
    expect(row).toMatch(new RegExp(`^${id}\\s+CRAWL\\s+RUNNING\\s+\\S+\\s+\\d+/\\d+\\s+\\d+s\\s+${site!.url}/$`));
    // The columns line up: TITLE starts at the same offset in the header and the row.
    expect(row!.indexOf('http')).toBe(header!.indexOf('TITLE'));

    const json = sluice(['ls', '--json']);
    expect(await json.exited).toBe(0);
    expect((JSON.parse(json.stdout()) as { id: string; status: string }[]).map((e) => [e.id, e.status])).toEqual([[id, 'RUNNING']]);
  });

  it('cancel of a running crawl makes a concurrent watch exit 3', async () => {
    app = await appForTest();
    const id = await startStuckCrawl();
    const watching = sluice(['watch', id]);
    await watching.line(/^#\d+ STATUS\s+RUNNING/); // subscribed and replayed up to now

    const cancel = sluice(['cancel', id, '--reason', 'from the CLI test']);
    expect(await cancel.exited).toBe(0);
    expect(cancel.stdout()).toMatch(new RegExp(`^Cancel accepted for ${id}: it is (CANCELLING|CANCELLED)`));

    expect(await watching.exited).toBe(3);
    expect(watching.stdout()).toMatch(/^CANCELLED in [\d.]+s: .* — reason: from the CLI test$/m);

    // Cancelling again is not an error: it says how it ended.
    const again = sluice(['cancel', id]);
    expect(await again.exited).toBe(0);
    expect(again.stdout()).toBe(`Not cancelled: ${id} had already ended CANCELLED.\n`);

    // Watching something that has ended replays it and exits with its code at once.
    const replay = sluice(['watch', id, '--json']);
    expect(await replay.exited).toBe(3);
    const events = replay.stdout().trim().split('\n').map((l) => JSON.parse(l) as { seq: number; status: string });
    expect(events.map((e) => e.seq)).toEqual(events.map((_, i) => i + 1));
    expect(events.at(-1)!.status).toBe('CANCELLED');
  });

  it('watch reconnects after the connection drops and misses no event', async () => {
    app = await appForTest();
    const proxy = await startProxy(app.url);
    const id = await startStuckCrawl();
    const run = sluice(['watch', id], { SLUICE_URL: proxy.url });
    await run.line(/^#\d+ STATUS\s+RUNNING/);
    proxy.dropAll();
    // The cancel happens while the watcher is disconnected (it waits about a second before
    // reconnecting): its events must come in the replay after the reconnect.
    await app.gql(CANCEL, { id, reason: 'during the outage' });
    expect(await run.exited).toBe(3);
    expect(run.stderr()).toContain('connection lost, reconnecting');
    const seqs = [...run.stdout().matchAll(/^#(\d+) /gm)].map((m) => Number(m[1]));
    expect(seqs).toEqual(seqs.map((_, i) => i + 1));
    const { lastSeq } = (await app.gql(`query ($id: ID!) { execution(id: $id) { lastSeq } }`, { id })).data!.execution;
    expect(seqs.at(-1)).toBe(lastSeq);
    expect(run.stdout()).toMatch(/^#\d+ STATUS\s+CANCELLED/m);
  });

  it('cancel --session cancels every active execution of the session', async () => {
    app = await appForTest();
    const first = await startStuckCrawl('batch-1');
    const second = await startStuckCrawl('batch-1');
    const run = sluice(['cancel', '--session', 'batch-1', '--kind', 'crawl']);
    expect(await run.exited).toBe(0);
    expect(run.stdout()).toMatch(/^Cancelled 2 executions of session batch-1\./);
    expect(run.stdout()).toContain(first);
    expect(run.stdout()).toContain(second);
  });

  it('pause stops a running crawl with its checkpoint; resume queues it again; a chat answer is refused with exit 2', async () => {
    app = await appForTest();
    const id = await startStuckCrawl();
    const paused = sluice(['pause', id, '--reason', 'from the CLI test']);
    expect(await paused.exited).toBe(0);
    expect(paused.stdout()).toBe(`Paused ${id}: it is PAUSED, its checkpoint kept (sluice resume ${id} continues it).\n`);
    await site!.waitFor(() => site!.inFlight() === 0); // its code stopped: the request in flight was abandoned
    const listed = sluice(['ls', '--json']);
    expect(await listed.exited).toBe(0);
    expect(JSON.parse(listed.stdout())).toEqual([expect.objectContaining({ id, status: 'PAUSED', attempt: 1 })]);

    const resumed = sluice(['resume', id, '--json']);
    expect(await resumed.exited).toBe(0);
    expect(JSON.parse(resumed.stdout())).toMatchObject({ id, attempt: 2 });
    await site!.waitFor(() => site!.inFlight() > 0); // running again

    const chat = await app.gql(`mutation { sendChatMessage(input: { text: "what is a sluice?" }) { id } }`);
    const refused = sluice(['pause', chat.data!.sendChatMessage.id]);
    expect(await refused.exited).toBe(2);
    expect(refused.stderr()).toMatch(/cannot resume, so it cannot be paused.*\(CONFLICT\)/);
  });

  it('pause --session and resume with several ids act on every match', async () => {
    app = await appForTest();
    const first = await startStuckCrawl('batch-2');
    const second = await startStuckCrawl('batch-2');
    const paused = sluice(['pause', '--session', 'batch-2']);
    expect(await paused.exited).toBe(0);
    expect(paused.stdout()).toMatch(/^Paused 2 executions of session batch-2\./);
    const resumed = sluice(['resume', first, second]);
    expect(await resumed.exited).toBe(0);
    expect(resumed.stdout()).toMatch(/^Resumed 2 executions\./);
    expect(resumed.stdout()).toContain(first);
    expect(resumed.stdout()).toContain(second);
    const usage = sluice(['resume']);
    expect(await usage.exited).toBe(2);
  });

  it('an unknown id exits 6 and says how to find one', async () => {
    app = await appForTest();
    const cancel = sluice(['cancel', 'no-such-id']);
    expect(await cancel.exited).toBe(6);
    expect(cancel.stderr()).toContain('no execution has id "no-such-id" (NOT_FOUND)');
    expect(cancel.stderr()).toContain('sluice ls --all');
    const watch = sluice(['watch', 'no-such-id']);
    expect(await watch.exited).toBe(6);
    expect(watch.stderr()).toContain('no execution has id "no-such-id"');
  });

  it('an unreachable server exits 5 and says where it looked', async () => {
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const { port } = closed.address() as AddressInfo;
    await new Promise<void>((resolve) => closed.close(() => resolve()));
    const run = sluice(['ls'], { SLUICE_URL: `http://127.0.0.1:${port}` });
    expect(await run.exited).toBe(5);
    expect(run.stderr()).toContain(`cannot reach http://127.0.0.1:${port}/graphql (ECONNREFUSED)`);
    expect(run.stderr()).toContain('SLUICE_URL');
  });

  it('sends SLUICE_TOKEN, and a refused token exits 5 saying to set SLUICE_TOKEN', async () => {
    const seen: (string | undefined)[] = [];
    const refusing = createServer((req, res) => {
      seen.push(req.headers.authorization);
      const body = { errors: [{ message: 'a valid API token is required', extensions: { code: 'UNAUTHENTICATED' } }] };
      res.writeHead(401, { 'content-type': 'application/json' }).end(JSON.stringify(body));
    });
    await new Promise<void>((resolve) => refusing.listen(0, '127.0.0.1', resolve));
    deferCleanup(() => new Promise<void>((resolve) => refusing.close(() => resolve())));
    const url = `http://127.0.0.1:${(refusing.address() as AddressInfo).port}`;
    const run = sluice(['ls'], { SLUICE_URL: url, SLUICE_TOKEN: 'wrong-token' });
    expect(await run.exited).toBe(5);
    expect(seen).toEqual(['Bearer wrong-token']);
    expect(run.stderr()).toContain('a valid API token is required (UNAUTHENTICATED)');
    expect(run.stderr()).toContain('Set SLUICE_TOKEN');
  });

  it('bad usage exits 2 with the usage', async () => {
    // Every usage check is covered in-process by test/unit/cli.test.ts; these prove the process exit code.
    const cases: [string[], string][] = [
      [[], 'missing the command'],
      [['crawl', 'http://example.com', '--depth', 'deep'], '--depth must be a whole number'],
      [['ls', '--bogus'], "Unknown option '--bogus'"],
    ];
    const runsDone = await Promise.all(cases.map(async ([args]) => {
      const run = sluice(args, { SLUICE_URL: 'http://127.0.0.1:9' });
      return { code: await run.exited, stderr: run.stderr() };
    }));
    runsDone.forEach(({ code, stderr }, i) => {
      expect(code).toBe(2);
      expect(stderr).toContain(cases[i]![1]);
      expect(stderr).toContain('sluice');
    });
    const help = sluice(['--help']);
    expect(await help.exited).toBe(0);
    expect(help.stdout()).toMatch(/Exit codes:[\s\S]*3 +the execution was CANCELLED/);
  });
});
