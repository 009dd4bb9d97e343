import { InputError } from '../lib/errors.ts';

const MAX_ID_LENGTH = 200;

/**
 * Refuses text with a NUL character (U+0000) in it. PostgreSQL cannot store one in text or jsonb and
 * SQLite can: rather than answer the same input differently per store (or half-write a chat session
 * on one of them), every store answers BAD_USER_INPUT, before anything is written.
 */
export function checkNoNul(text: string, field: string): string {
  if (text.includes('\u0000')) throw new InputError(`${field} must not contain a NUL character (U+0000)`, field);
  return text;
}

/** Every string in a caller's input object (crawl options: url, patterns), checked by checkNoNul. */
export function checkNoNulIn(input: Record<string, unknown>): void {
  for (const [field, value] of Object.entries(input)) {
    if (typeof value === 'string') checkNoNul(value, field);
    else if (Array.isArray(value)) for (const item of value) if (typeof item === 'string') checkNoNul(item, field);
  }
}

/** Refuses ids nothing can have (absurdly long) before they reach the database. */
export function checkId(id: string | number, field = 'id'): string {
  const text = checkNoNul(String(id), field);
  if (text.length === 0 || text.length > MAX_ID_LENGTH) throw new InputError(`${field} must be 1 to ${MAX_ID_LENGTH} characters`, field);
  return text;
}

/** An optional id argument: null when absent. */
export function checkOptionalId(id: string | number | null | undefined, field: string): string | null {
  return id == null ? null : checkId(id, field);
}

/** A page size from the caller: `fallback` when absent, else 1..max. */
export function checkLimit(limit: number | null | undefined, fallback: number, max: number): number {
  const value = limit ?? fallback;
  if (value < 1 || value > max) throw new InputError(`limit must be between 1 and ${max}`, 'limit');
  return value;
}

/** Text the caller typed (a question, a search): trimmed, not empty, at most `max` characters. */
export function checkText(text: string, field: string, max: number): string {
  checkNoNul(text, field);
  const trimmed = text.trim();
  if (!trimmed) throw new InputError(`${field} must not be empty`, field);
  if (text.length > max) throw new InputError(`${field} must be at most ${max} characters`, field);
  return trimmed;
}
