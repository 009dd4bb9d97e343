import type { ExecutionKind, ExecutionStatus } from '../graphql/documents.ts';

// Pure formatting helpers shared by components; no state.

const STATUS_WORDS: Record<ExecutionStatus, string> = {
  QUEUED: 'Queued',
  RUNNING: 'Running',
  CANCELLING: 'Stopping…',
  CANCELLED: 'Cancelled',
  SUCCEEDED: 'Succeeded',
  FAILED: 'Failed',
  INTERRUPTED: 'Interrupted',
  PAUSED: 'Paused',
};

/** The word a person reads for a status ("Stopping…" for CANCELLING). */
export function statusWord(status: ExecutionStatus): string {
  return STATUS_WORDS[status];
}

/** The CSS tone of a status: one colour per meaning, used by badges, bars and borders. */
export function statusTone(status: ExecutionStatus): 'neutral' | 'active' | 'warn' | 'ok' | 'bad' | 'muted' {
  switch (status) {
    case 'QUEUED':
    case 'PAUSED':
      return 'neutral';
    case 'RUNNING':
      return 'active';
    case 'CANCELLING':
    case 'INTERRUPTED':
      return 'warn';
    case 'SUCCEEDED':
      return 'ok';
    case 'FAILED':
      return 'bad';
    case 'CANCELLED':
      return 'muted';
  }
}

export function kindWord(kind: ExecutionKind): string {
  return kind === 'CRAWL' ? 'Crawl' : 'Chat answer';
}

/** 3 s, 1 min 05 s, 1 h 02 min. */
export function formatDuration(ms: number | null): string {
  if (ms === null || !Number.isFinite(ms)) return '—';
  const seconds = Math.max(0, Math.floor(ms / 1000));
  if (seconds < 60) return `${seconds} s`;
  const minutes = Math.floor(seconds / 60);
  if (minutes < 60) return `${minutes} min ${String(seconds % 60).padStart(2, '0')} s`;
  return `${Math.floor(minutes / 60)} h ${String(minutes % 60).padStart(2, '0')} min`;
}

export function formatBytes(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  const units = ['KB', 'MB', 'GB', 'TB'];
  let value = bytes / 1024;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit += 1;
  }
  return `${value.toFixed(value < 10 ? 1 : 0)} ${units[unit]}`;
}

const numberFormat = new Intl.NumberFormat('en');

export function formatCount(value: number): string {
  return numberFormat.format(value);
}

const dateTimeFormat = new Intl.DateTimeFormat('en', { dateStyle: 'medium', timeStyle: 'short' });
const timeFormat = new Intl.DateTimeFormat('en', { hour: '2-digit', minute: '2-digit', second: '2-digit' });

/** "12 Mar 2025, 14:03" for an ISO date, "—" for none. */
export function formatDateTime(iso: string | null): string {
  if (!iso) return '—';
  const date = new Date(iso);
  return Number.isNaN(date.getTime()) ? '—' : dateTimeFormat.format(date);
}

export function formatTime(iso: string): string {
  const date = new Date(iso);
  return Number.isNaN(date.getTime()) ? '' : timeFormat.format(date);
}

/** "just now", "5 min ago", "3 h ago", then a date. */
export function formatRelative(iso: string | null, now: number): string {
  if (!iso) return '—';
  const then = new Date(iso).getTime();
  if (Number.isNaN(then)) return '—';
  const seconds = Math.round((now - then) / 1000);
  if (seconds < 45) return 'just now';
  if (seconds < 3600) return `${Math.round(seconds / 60)} min ago`;
  if (seconds < 86_400) return `${Math.round(seconds / 3600)} h ago`;
  return formatDateTime(iso);
}
