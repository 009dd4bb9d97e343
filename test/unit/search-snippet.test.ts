import { describe, expect, it } from 'vitest';
import { publicSnippet } from '../../server/store/rows.ts';

const O = '\u0002';
const C = '\u0003';

describe('search snippets', () => {
  it('are plain text: no link syntax, whole or cut off by the window, no emphasis or code marks', () => {
    expect(publicSnippet(`Use [\`${O}CREATE${C} INDEX\`](https://x.example/sql-createindex.html) with **care**`)).toBe('Use «CREATE» INDEX with care');
    expect(publicSnippet(`…example/a.html) then ${O}vacuum${C} [the table](https://x.exam…`)).toBe('… then «vacuum» the table');
    expect(publicSnippet('![logo](https://x.example/l.png) text \\_escaped\\_ `code`')).toBe('logo text _escaped_ code');
  });

  it('show « and » of the text itself as ‹ and ›', () => {
    expect(publicSnippet(`«quoted» ${O}word${C}`)).toBe('‹quoted› «word»');
  });
});
