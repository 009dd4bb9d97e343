import { InputError } from '../lib/errors.ts';

const MAX_ID_LENGTH = 200;

/** Refuses ids nothing can have (absurdly long) before they reach the database. */
export function checkId(id: string | number, field = 'id'): string {
  const text = String(id);
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
  const trimmed = text.trim();
  if (!trimmed) throw new InputError(`${field} must not be empty`, field);
  if (text.length > max) throw new InputError(`${field} must be at most ${max} characters`, field);
  return trimmed;
}
