// sluice watch <id> (and crawl --follow): follow jobProgress to the terminal event.
import { ApiError, type Api } from '../api.ts';
import { commandHelp, intOption, onePositional, parseCommand } from '../args.ts';
import type { Context } from '../context.ts';
import { EXECUTION_QUERY, JOB_PROGRESS, type Execution, type ExecutionEvent } from '../execution.ts';
import { ExitCode, exitCodeForStatus, isTerminal } from '../exit-codes.ts';
import { eventLine, LiveLine, progressLine, summaryLine } from '../render.ts';

/** Runs `sluice watch`. */
export async function watch(args: string[], ctx: Context): Promise<number> {
  const { values, positionals } = parseCommand('watch', args, {
    after: { type: 'string' },
    json: { type: 'boolean' },
  });
  if (values.help) {
    ctx.stdout.write(commandHelp('watch'));
    return ExitCode.SUCCEEDED;
  }
  const id = onePositional('watch', positionals, 'the execution id');
  const afterSeq = intOption('watch', 'after', values.after, 0, Number.MAX_SAFE_INTEGER) ?? 0;
  const api = ctx.api(values.url);
  const execution = await fetchExecution(api, id);
  return follow(api, ctx, { execution, afterSeq, json: values.json ?? false });
}

/** The execution, or a NOT_FOUND ApiError. */
export async function fetchExecution(api: Api, id: string): Promise<Execution> {
  const { execution } = await api.request(EXECUTION_QUERY, { id });
  if (!execution) throw new ApiError('NOT_FOUND', `no execution has id "${id}"`);
  return execution;
}

export interface FollowOptions {
  execution: Execution;
  afterSeq: number;
  json: boolean;
}

/** Streams the execution's events after `afterSeq` to the end; returns the exit code for how it ended. */
export async function follow(api: Api, ctx: Context, options: FollowOptions): Promise<number> {
  const { id } = options.execution;
  const view = createView(ctx, options);
  const variables = { id, after: options.afterSeq };
  let last: ExecutionEvent | undefined;
  let outcome: Outcome;
  try {
    outcome = await stream(api, ctx.signal, variables, {
      event(event) {
        last = event;
        view.event(event);
      },
      note: (text) => view.note(text),
    });
  } catch (error) {
    view.close();
    throw error;
  }

  const resume = `sluice watch ${id} --after ${variables.after}`;
  if (outcome === 'interrupted') {
    view.close();
    ctx.stderr.write(`Stopped watching. Execution ${id} keeps running on the server.\n  Stop it:     sluice cancel ${id}\n  Watch again: ${resume}\n`);
    return ExitCode.INTERRUPTED_BY_USER;
  }
  const final = await fetchExecution(api, id).catch(() => fromEvent(options.execution, last));
  if (!isTerminal(final.status)) {
    view.close();
    ctx.stderr.write(`The server ended the event stream while ${id} is ${final.status}. Watch again: ${resume}\n`);
    return ExitCode.FAILED;
  }
  view.finish(final);
  return exitCodeForStatus(final.status);
}

type Outcome = 'complete' | 'interrupted';

/** jobProgress until it completes (or Ctrl-C); `variables.after` follows the last event seen. */
function stream(
  api: Api,
  signal: AbortSignal,
  variables: { id: string; after: number },
  on: { event(event: ExecutionEvent): void; note(text: string | undefined): void },
): Promise<Outcome> {
  return new Promise<Outcome>((resolve, reject) => {
    const unsubscribe = api.subscribe(JOB_PROGRESS, variables, {
      next: ({ jobProgress: event }) => {
        if (event.seq <= variables.after) return; // seen before a reconnect
        variables.after = event.seq; // a reconnect resumes after it (see api.subscribe)
        on.event(event);
      },
      error: (error) => settle(() => reject(error)),
      complete: () => settle(() => resolve('complete')),
      reconnecting: () => on.note('connection lost, reconnecting…'),
      connected: () => on.note(undefined),
    });
    const interrupt = () => settle(() => resolve('interrupted'));
    const settle = (done: () => void) => {
      signal.removeEventListener('abort', interrupt);
      unsubscribe();
      done();
    };
    if (signal.aborted) return interrupt();
    signal.addEventListener('abort', interrupt, { once: true });
  });
}

function fromEvent(execution: Execution, event: ExecutionEvent | undefined): Execution {
  return event ? { ...execution, status: event.status, progress: event.progress } : execution;
}

interface View {
  event(event: ExecutionEvent): void;
  /** A transient note (reconnecting), or undefined to clear it. */
  note(text: string | undefined): void;
  /** The execution ended: print how (and close). */
  finish(final: Execution): void;
  /** Stop drawing, without a summary. */
  close(): void;
}

function createView(ctx: Context, options: FollowOptions): View {
  if (options.json) return jsonView(ctx);
  if (ctx.stdout.isTTY) return liveView(ctx, options.execution);
  return plainView(ctx);
}

function jsonView(ctx: Context): View {
  return {
    event: (event) => ctx.stdout.write(`${JSON.stringify(event)}\n`),
    note: (text) => text && ctx.stderr.write(`${text}\n`),
    finish: () => {},
    close: () => {},
  };
}

function plainView(ctx: Context): View {
  return {
    event: (event) => ctx.stdout.write(`${eventLine(event)}\n`),
    note: (text) => ctx.stderr.write(`${text ?? 'reconnected'}\n`),
    finish: (final) => ctx.stdout.write(`${summaryLine(final)}\n`),
    close: () => {},
  };
}

/** The live progress line (stage, bar, percent, pages, failed, chunks, elapsed). */
function liveView(ctx: Context, execution: Execution): View {
  const line = new LiveLine(ctx.stdout);
  let { status, progress } = execution;
  let note: string | undefined;
  // Elapsed time from the server's durationMs plus the local clock since, so clock skew does not matter.
  let base = execution.durationMs ?? (status === 'QUEUED' ? null : 0);
  let since = Date.now();
  const elapsed = () => (base === null ? null : base + Date.now() - since);
  const draw = () => line.draw(progressLine(status, progress, elapsed(), note));
  // Redrawn on a clock rather than per event: a busy crawl sends many events a second.
  const timer = setInterval(draw, 200);
  draw();
  return {
    event(event) {
      if (base === null && event.status !== 'QUEUED') [base, since] = [0, Date.now()];
      const changed = event.status !== status;
      ({ status, progress } = event);
      if (changed) draw();
    },
    note(text) {
      note = text;
      draw();
    },
    finish(final) {
      ({ status, progress } = final);
      [base, since] = [final.durationMs, Date.now()];
      note = undefined;
      draw();
      this.close();
      ctx.stdout.write(`${summaryLine(final)}\n`);
    },
    close() {
      clearInterval(timer);
      line.end();
    },
  };
}
