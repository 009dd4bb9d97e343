import { describe, expect, it } from 'vitest';
import type { KnowledgeHit } from '../../server/store/knowledge-records.ts';
import { rerank } from '../../server/store/rerank.ts';
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

describe('reranking hits', () => {
  const hit = (url: string, title: string, score: number): KnowledgeHit => ({ chunkId: score, url, title, heading: null, snippet: '', text: '', score });

  it('lifts a page whose title or URL names what was asked, and keeps the order otherwise', () => {
    const hits = [hit('https://d.test/logging.html', 'Logging', 2.5), hit('https://d.test/sql-copy.html', 'COPY', 2), hit('https://d.test/other.html', 'Other', 1)];
    expect(rerank(hits, 'COPY a CSV', 3).map((h) => h.url)).toEqual([
      'https://d.test/sql-copy.html',
      'https://d.test/logging.html',
      'https://d.test/other.html',
    ]);
    expect(rerank(hits, 'nothing named', 2).map((h) => h.score)).toEqual([2.5, 2]);
  });
});
