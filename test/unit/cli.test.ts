import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import type { Progress } from '../../cli/execution.ts';
import { exitCodeForError, exitCodeForStatus } from '../../cli/exit-codes.ts';
import { main } from '../../cli/main.ts';
import { bar, formatDuration, progressLine, summaryLine, table } from '../../cli/render.ts';

/** Runs the CLI in-process against a server that is never reached. */
async function run(argv: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const capture = () => {
    const stream = new PassThrough();
    let text = '';
    stream.setEncoding('utf8').on('data', (chunk: string) => (text += chunk));
    return { stream, text: () => text };
  };
  const out = capture();
  const err = capture();
  const code = await main(argv, { stdout: out.stream, stderr: err.stream, env: { SLUICE_URL: 'http://127.0.0.1:9' }, signal: new AbortController().signal });
  return { code, stdout: out.text(), stderr: err.text() };
}

const progress: Progress = {
  percent: 42.7,
  stage: 'fetching',
  message: null,
  pagesDiscovered: 30,
  pagesFetched: 12,
  pagesFailed: 1,
  pagesSkipped: 2,
  bytesFetched: 1000,
  chunksStored: 40,
};

describe('sluice usage errors', () => {
  it.each([
    [['crawl'], 'missing the URL to crawl'],
    [['crawl', 'example.com'], 'the URL must start with http:// or https://'],
    [['crawl', 'http://x.test', '--max-pages', '0'], '--max-pages must be a whole number from 1 to 10000'],
    [['crawl', 'http://x.test', 'http://y.test'], 'unexpected argument "http://y.test"'],
    [['ls', 'extra'], 'unexpected argument "extra"'],
    [['ls', '--limit', '5'], '--limit goes with --all'],
    [['ls', '--kind', 'job'], '--kind must be CRAWL or CHAT'],
    [['cancel'], 'missing the execution id (or --session <id>)'],
    [['cancel', 'a', '--session', 's'], 'give an execution id or --session, not both'],
    [['cancel', 'a', '--kind', 'CRAWL'], '--kind goes with --session'],
    [['watch'], 'missing the execution id'],
    [['watch', 'a', '--after=-1'], '--after must be a whole number'],
    [['ls', '--url', 'ftp://x'], 'the server URL must be an http(s) URL'],
    [['frob'], 'unknown command "frob"'],
  ])('%j exits 2: %s', async (argv, message) => {
    const result = await run(argv);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain(`sluice: ${message}`);
    expect(result.stdout).toBe('');
  });

  it('--help prints the usage with the exit codes; a command --help its own', async () => {
    const all = await run(['--help']);
    expect(all.code).toBe(0);
    expect(all.stdout).toContain('Ctrl-C during `crawl --follow` or `watch` only stops watching');
    expect(all.stdout).toMatch(/^ {2}6 +no such execution/m);
    const crawl = await run(['crawl', '--help']);
    expect(crawl.code).toBe(0);
    expect(crawl.stdout).toMatch(/^Usage: sluice crawl <url>/);
    expect(crawl.stdout).not.toContain('sluice ls');
  });
});

describe('sluice exit codes', () => {
  it('maps terminal statuses and error codes', () => {
    expect(['SUCCEEDED', 'FAILED', 'CANCELLED', 'INTERRUPTED'].map(exitCodeForStatus)).toEqual([0, 1, 3, 4]);
    expect(['UNREACHABLE', 'UNAUTHENTICATED', 'FORBIDDEN', 'NOT_FOUND', 'BAD_USER_INPUT', 'INTERNAL'].map(exitCodeForError)).toEqual([5, 5, 5, 6, 2, 1]);
  });
});

describe('sluice rendering', () => {
  it('draws the progress line with stage, bar, percent, pages, failures, chunks and elapsed time', () => {
    expect(bar(50, 10)).toBe('[█████░░░░░]');
    expect(bar(null, 4)).toBe('[····]');
    expect(progressLine('RUNNING', progress, 65_000)).toBe(`fetching    ${bar(42.7)}  42%  pages 12/30  failed 1  chunks 40  1m 05s`);
    expect(progressLine('CANCELLING', progress, null, 'reconnecting')).toMatch(/^cancelling \(fetching\) .* chunks 40 {2}reconnecting$/);
  });

  it('sums up how an execution ended', () => {
    const line = summaryLine({ id: 'x', status: 'CANCELLED', durationMs: 1234, error: null, cancelReason: 'ops', progress });
    expect(line).toBe('CANCELLED in 1.2s: 12 pages fetched of 30 discovered, 1 failed, 2 skipped, 40 chunks stored — reason: ops');
    expect(formatDuration(2 * 3_600_000 + 3 * 60_000)).toBe('2h 03m');
  });

  it('aligns table columns and cuts long lines to the width', () => {
    expect(table(['ID', 'TITLE'], [['a', 'one'], ['long-id', 'two']])).toBe('ID       TITLE\na        one\nlong-id  two');
    expect(table(['ID', 'TITLE'], [['a', 'a very long title']], 12).split('\n')[1]).toBe('a   a very …');
  });
});
