// Text the CLI prints: the live progress line, one line per event, the end summary, tables.
import type { Execution, ExecutionEvent, Progress } from './execution.ts';

const BAR_WIDTH = 24;

/** "1.2s", "4m 05s", "2h 03m". */
export function formatDuration(ms: number): string {
  const s = Math.max(0, ms) / 1000;
  if (s < 60) return `${s.toFixed(1)}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m ${String(Math.floor(s % 60)).padStart(2, '0')}s`;
  return `${Math.floor(m / 60)}h ${String(m % 60).padStart(2, '0')}m`;
}

/** A coarse age for tables: "12s", "5m", "3h", "2d". */
export function formatAge(ms: number): string {
  const s = Math.max(0, Math.floor(ms / 1000));
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m`;
  if (s < 86_400) return `${Math.floor(s / 3600)}h`;
  return `${Math.floor(s / 86_400)}d`;
}

export function formatPercent(percent: number | null): string {
  return percent === null ? '--%' : `${Math.floor(percent)}%`;
}

/** `[██████░░░░]`; a dotted bar while the percent is unknown. */
export function bar(percent: number | null, width = BAR_WIDTH): string {
  if (percent === null) return `[${'·'.repeat(width)}]`;
  const filled = Math.round((Math.min(100, Math.max(0, percent)) / 100) * width);
  return `[${'█'.repeat(filled)}${'░'.repeat(width - filled)}]`;
}

function counts(p: Progress): string {
  const parts = [`pages ${p.pagesFetched}/${p.pagesDiscovered}`];
  if (p.pagesFailed) parts.push(`failed ${p.pagesFailed}`);
  parts.push(`chunks ${p.chunksStored}`);
  return parts.join('  ');
}

/** The single live line: stage, bar, percent, pages fetched/discovered, failed, chunks, elapsed. */
export function progressLine(status: string, p: Progress, elapsedMs: number | null, note?: string): string {
  const stage = status === 'RUNNING' ? p.stage : `${status.toLowerCase()}${p.stage && status !== 'QUEUED' ? ` (${p.stage})` : ''}`;
  const elapsed = elapsedMs === null ? '' : `  ${formatDuration(elapsedMs)}`;
  return `${stage.padEnd(11)} ${bar(p.percent)} ${formatPercent(p.percent).padStart(4)}  ${counts(p)}${elapsed}${note ? `  ${note}` : ''}`;
}

/** One event as one line, for logs and pipes. */
export function eventLine(e: ExecutionEvent): string {
  const head = `#${e.seq} ${e.type.padEnd(8)} ${e.status.padEnd(10)} ${e.progress.stage.padEnd(11)} ${formatPercent(e.progress.percent).padStart(4)}  ${counts(e.progress)}`;
  return e.message ? `${head}  ${e.message.replace(/\s+/g, ' ')}` : head;
}

/** The last words of a watch: how it ended and what it did. */
export function summaryLine(e: Pick<Execution, 'id' | 'status' | 'durationMs' | 'error' | 'cancelReason' | 'progress'>): string {
  const p = e.progress;
  const took = e.durationMs === null ? '' : ` in ${formatDuration(e.durationMs)}`;
  const what = `${p.pagesFetched} pages fetched of ${p.pagesDiscovered} discovered, ${p.pagesFailed} failed, ${p.pagesSkipped} skipped, ${p.chunksStored} chunks stored`;
  const why = e.error ? ` — error: ${e.error}` : e.cancelReason ? ` — reason: ${e.cancelReason}` : '';
  return `${e.status}${took}: ${what}${why}`;
}

/** Columns padded to their widest cell; the last column is not padded (and may be cut to `width`). */
export function table(header: string[], rows: string[][], width?: number): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]) => {
    const text = cells.map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i] ?? 0))).join('  ');
    return width && text.length > width ? `${text.slice(0, width - 1)}…` : text;
  };
  return [line(header), ...rows.map(line)].join('\n');
}

/** A terminal line rewritten in place (carriage return, erase to end of line). */
export class LiveLine {
  private last = '';
  constructor(private readonly stream: NodeJS.WritableStream & { columns?: number }) {}

  draw(text: string): void {
    const width = (this.stream.columns ?? 80) - 1;
    const fitted = text.length > width ? `${text.slice(0, width - 1)}…` : text;
    if (fitted === this.last) return;
    this.last = fitted;
    this.stream.write(`\r${fitted}\x1b[K`);
  }

  /** Leaves the current text on screen and moves to the next line. */
  end(): void {
    if (this.last) this.stream.write('\n');
    this.last = '';
  }
}
