import type { Logger } from 'pino';
import type { ProgressPatch } from '../../executions/progress.ts';
import type { ExecutionWrite } from '../../executions/types.ts';

/** Writes the answer's full text so far, in one fenced write with `write` (its TOKEN event). */
export type WriteAnswer = (text: string, write: ExecutionWrite) => Promise<void>;

export interface AnswerWriterOptions {
  /** Flush once this many characters are pending... */
  maxChars: number;
  /** ...or once this long has passed since the last flush (also by timer, for a stalled stream). */
  intervalMs: number;
}

const DEFAULTS: AnswerWriterOptions = { maxChars: 40, intervalMs: 80 };

/**
 * Streams an answer into its message: tokens are coalesced (a long answer writes tens of rows, not
 * thousands), and each flush is one fenced write of a TOKEN event (the new text) together with the
 * message's full text so far, so the stored text always equals the concatenated TOKEN events.
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
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    if (!this.pending) return this.chain;
    const piece = this.pending;
    const text = this.written + piece;
    const progress = this.progress;
    this.written = text;
    this.pending = '';
    this.progress = {};
    this.lastFlush = Date.now();
    this.chain = this.chain.then(async () => {
      await this.writeAnswer(text, { event: { type: 'TOKEN', message: piece }, progress });
    });
    return this.chain;
  }

  /** Drops the timer; nothing pending is written after this. */
  close(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
  }
}
