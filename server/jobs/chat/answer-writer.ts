import type { Logger } from 'pino';
import type { ProgressPatch } from '../../executions/progress.ts';
import type { ExecutionWrite } from '../../executions/types.ts';

/**
 * Makes one fenced write of the answer (`write`: its TOKEN event, if any); `text` is the answer's
 * full text on its last write (the answer is complete), null on the others.
 */
export type WriteAnswer = (write: ExecutionWrite, text: string | null) => Promise<void>;

export interface AnswerWriterOptions {
  /** Flush once this many characters are pending... */
  maxChars: number;
  /** ...or once this long has passed since the last flush (also by timer, for a stalled stream). */
  intervalMs: number;
}

const DEFAULTS: AnswerWriterOptions = { maxChars: 40, intervalMs: 80 };

/**
 * Streams an answer into its message: tokens are coalesced (a long answer writes tens of rows, not
 * thousands), and each flush is one fenced write of a TOKEN event (the new text). The message's text
 * is written once, with the last write (finish): until then the store reads it as the concatenated
 * TOKEN events (ChatStore.listMessages), so a token costs one event row, not a rewrite of the whole
 * text so far, and what the message shows is what was emitted, however the answer ends.
 */
export class AnswerWriter {
  private written = '';
  private pending = '';
  private lastFlush = 0;
  private timer: NodeJS.Timeout | null = null;
  private chain: Promise<void> = Promise.resolve();
  private progress: ProgressPatch = {};

  constructor(
    private readonly log: Logger,
    private readonly writeAnswer: WriteAnswer,
    private readonly options: AnswerWriterOptions = DEFAULTS,
  ) {}

  /** The text written so far (flushed or pending). */
  get text(): string {
    return this.written + this.pending;
  }

  /** Adds text; resolves once it is written when this push flushed, at once otherwise. */
  push(piece: string, progress: ProgressPatch = {}): Promise<void> {
    this.pending += piece;
    this.progress = { ...this.progress, ...progress };
    const due = Date.now() - this.lastFlush >= this.options.intervalMs;
    if (this.pending.length >= this.options.maxChars || due) return this.flush();
    this.timer ??= setTimeout(() => {
      // A refused write (the answer was cancelled) also reaches the job through its signal.
      this.flush().catch((error: unknown) => this.log.debug({ err: error }, 'answer flush refused'));
    }, this.options.intervalMs);
    return this.chain;
  }

  /** Writes what is pending; resolves when every write so far is committed. */
  flush(): Promise<void> {
    return this.write(false);
  }

  /**
   * Writes what is pending together with the full text: the answer is complete. Resolves when every
   * write is committed; nothing may be pushed after it.
   */
  finish(): Promise<void> {
    return this.write(true);
  }

  private write(complete: boolean): Promise<void> {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    if (!this.pending && !complete) return this.chain;
    const piece = this.pending;
    const text = this.written + piece;
    const progress = this.progress;
    this.written = text;
    this.pending = '';
    this.progress = {};
    this.lastFlush = Date.now();
    const write: ExecutionWrite = piece ? { event: { type: 'TOKEN', message: piece }, progress } : { progress };
    this.chain = this.chain.then(() => this.writeAnswer(write, complete ? text : null));
    return this.chain;
  }

  /** Drops the timer; nothing pending is written after this. */
  close(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
  }
}
