// Entry point of the `sluice` command (run through cli/sluice.js, or `node --import tsx cli/sluice.ts`).
import { main } from './main.ts';

const interrupted = new AbortController();
// The first Ctrl-C stops watching gracefully; a second one falls back to Node's default (exit at once).
process.once('SIGINT', () => interrupted.abort());

process.exitCode = await main(process.argv.slice(2), {
  stdout: process.stdout,
  stderr: process.stderr,
  env: process.env,
  signal: interrupted.signal,
});
