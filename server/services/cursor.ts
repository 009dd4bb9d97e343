import { InputError } from '../lib/errors.ts';
import { checkNoNul } from './arguments.ts';

/** An opaque cursor: a row position behind a prefix naming what it pages, base64url-encoded. */
export function encodeCursor(prefix: string, position: number): string {
  return Buffer.from(`${prefix}:${position}`).toString('base64url');
}

/**
 * The position a cursor stands for (null when absent); BAD_USER_INPUT for anything this server did
 * not hand out for `prefix` (garbage, another query's cursor, a position with leading zeros).
 */
export function decodeCursor(after: string | null | undefined, prefix: string, query: string): number | null {
  if (after == null) return null;
  checkNoNul(after, 'after');
  const text = after.length <= 64 ? Buffer.from(after, 'base64url').toString() : '';
  const digits = text.startsWith(`${prefix}:`) ? text.slice(prefix.length + 1) : '';
  if (!/^[1-9][0-9]{0,15}$/.test(digits) || encodeCursor(prefix, Number(digits)) !== after) {
    throw new InputError(`after must be a nextCursor returned by ${query}`, 'after');
  }
  return Number(digits);
}

/** A cursor for a position of two numbers (a time, then an order on a tie), as encodeCursor makes one of one. */
export function encodeCursorPair(prefix: string, first: number, second: number): string {
  return Buffer.from(`${prefix}:${first}.${second}`).toString('base64url');
}

/** The two numbers a cursor of encodeCursorPair stands for (null when absent); BAD_USER_INPUT as decodeCursor. */
export function decodeCursorPair(after: string | null | undefined, prefix: string, query: string): [number, number] | null {
  if (after == null) return null;
  checkNoNul(after, 'after');
  const text = after.length <= 64 ? Buffer.from(after, 'base64url').toString() : '';
  const match = text.startsWith(`${prefix}:`) ? /^(0|[1-9][0-9]{0,15})\.([1-9][0-9]{0,15})$/.exec(text.slice(prefix.length + 1)) : null;
  if (!match || encodeCursorPair(prefix, Number(match[1]), Number(match[2])) !== after) {
    throw new InputError(`after must be a nextCursor returned by ${query}`, 'after');
  }
  return [Number(match[1]), Number(match[2])];
}
