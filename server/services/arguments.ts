import { badInput } from '../errors.ts';

const MAX_ID_LENGTH = 200;

/** Refuses ids no execution can have (absurdly long) before they reach the database. */
export function checkId(id: string | number, field = 'id'): string {
  const text = String(id);
  if (text.length === 0 || text.length > MAX_ID_LENGTH) throw badInput(`${field} must be 1 to ${MAX_ID_LENGTH} characters`, field);
  return text;
}
