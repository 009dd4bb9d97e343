import { describe, expect, it } from 'vitest';
import { highlight } from '../../client/lib/highlight.ts';

describe('highlight', () => {
  it('uses the « » marks of the server and drops them', () => {
    expect(highlight('the «sluice» gate and «gates»', 'whatever')).toEqual([
      { text: 'the ', match: false },
      { text: 'sluice', match: true },
      { text: ' gate and ', match: false },
      { text: 'gates', match: true },
    ]);
  });

  it('falls back to the words of the query, case-insensitive, treating them as text not patterns', () => {
    expect(highlight('A Sluice (gate) opens', 'sluice (gate')).toEqual([
      { text: 'A ', match: false },
      { text: 'Sluice', match: true },
      { text: ' (', match: false },
      { text: 'gate', match: true },
      { text: ') opens', match: false },
    ]);
    expect(highlight('plain', '')).toEqual([{ text: 'plain', match: false }]);
  });
});
