import { describe, expect, it } from 'vitest';
import { composeAnswer, notFoundAnswer, pieces, sentencesOf, stem } from '../../server/jobs/chat/compose.ts';
import { previousQuestion, type Passage } from '../../server/jobs/chat/retrieval.ts';
import { titleFrom } from '../../server/services/chat.ts';
import type { ChatMessage } from '../../server/store/knowledge-records.ts';
import { searchTerms } from '../../server/store/search-terms.ts';
import { ftsQuery } from '../../server/store/sqlite/sqlite-knowledge.ts';

const passage = (url: string, text: string, chunkId = 1): Passage => ({ chunkId, url, title: `T ${url}`, heading: null, text, score: 1 });

describe('search terms', () => {
  it('keeps only words, drops stop words when others remain, and quotes each term for FTS5', () => {
    expect(searchTerms('What is the DEFAULT port?')).toEqual(['default', 'port']);
    expect(searchTerms('the')).toEqual(['the']);
    expect(searchTerms('"a*" NEAR(b, c) -d:e')).toEqual(['near', 'b', 'c', 'd', 'e']);
    expect(ftsQuery('gateway* AND "port')).toBe('"gateway" OR "port"');
    expect(ftsQuery('*"():-')).toBeNull();
  });
});

describe('composed answers', () => {
  const passages = [
    passage('https://d.test/a', 'The gateway listens on port 7431 by default. Logs rotate nightly.', 1),
    passage('https://d.test/b', '## Ports\n\n- The admin **port** is `9000`.\n- Unrelated line about cats.', 2),
  ];

  it('quotes whole passages (heading and text, code kept) and says which page each is from', () => {
    const withHeading: Passage = { ...passages[1]!, heading: 'Guide > Ports', title: 'Guide' };
    const answer = composeAnswer('Which port is used?', [passages[0]!, withHeading]);
    expect(answer.found).toBe(true);
    expect(answer.text).toBe(
      [
        'Here is what the knowledge base says.',
        'From “T https://d.test/a” [1]:',
        'The gateway listens on port 7431 by default. Logs rotate nightly.',
        'From “Guide”, Ports [2]:',
        '## Ports\n\n- The admin **port** is `9000`.\n- Unrelated line about cats.',
        'Sources:\n[1] T https://d.test/a: https://d.test/a\n[2] Guide: https://d.test/b',
      ].join('\n\n'),
    );
    expect(answer.citations.map((c) => c.n)).toEqual([1, 2]);
  });

  it('leaves out passages far weaker than the best one', () => {
    const answer = composeAnswer('Which port does the gateway listen on?', passages);
    expect(answer.text).toContain('port 7431');
    expect(answer.text).not.toContain('admin');
    expect(answer.citations.map((c) => c.url)).toEqual(['https://d.test/a']);
  });

  it('quotes a passage whole or not at all', () => {
    const long = passage('https://d.test/long', `The port setting. ${'Filler words about ports. '.repeat(200)}`, 3);
    const answer = composeAnswer('Which port is used?', [long, passages[0]!]);
    expect(answer.text).toContain(long.text.trim());
    expect(answer.text).not.toContain('Logs rotate nightly');
  });

  it('says so when nothing relevant is found, instead of inventing', () => {
    expect(composeAnswer('How do I bake bread?', passages)).toEqual({
      text: notFoundAnswer('How do I bake bread?'),
      citations: [],
      found: false,
    });
    expect(composeAnswer('port', [])).toMatchObject({ found: false });
  });

  it('splits Markdown into plain sentences', () => {
    expect(sentencesOf('# A longer title here\n\nFirst sentence is here. Second one [link](http://x) too!\n\n```\ncode line only\n```')).toEqual([
      'A longer title here',
      'First sentence is here.',
      'Second one link too!',
    ]);
    expect(sentencesOf('Set HARBOUR\\_PORT to change it.')).toEqual(['Set HARBOUR_PORT to change it.']);
  });

  it('matches word forms', () => {
    expect(stem('named')).toBe(stem('name'));
    expect(stem('ports')).toBe(stem('port'));
    expect(stem('retries')).toBe(stem('retry'));
  });

  it('streams in pieces that join back to the text', () => {
    const text = 'Here is what the knowledge base says.\n\nFrom “A” [1]:\n\nA b c.\n\nSources:\n[1] x';
    const parts = pieces(text);
    expect(parts.join('')).toBe(text);
    expect(parts.length).toBeGreaterThan(3);
  });
});

describe('chat context', () => {
  const message = (id: string, role: ChatMessage['role'], text: string): ChatMessage => ({
    id, sessionId: 's', role, text, executionId: null, status: null, createdAt: 0,
  });

  it('finds the question asked before the one being answered', () => {
    const history = [message('1', 'user', 'first?'), message('2', 'assistant', 'a'), message('3', 'user', 'second?'), message('4', 'assistant', '')];
    expect(previousQuestion(history, '4')).toBe('first?');
    expect(previousQuestion(history, '2')).toBeNull();
  });

  it('titles a session with its first question, shortened at a word', () => {
    expect(titleFrom('  Short\nquestion? ')).toBe('Short question?');
    const long = titleFrom('word '.repeat(40));
    expect(long.length).toBeLessThanOrEqual(80);
    expect(long.endsWith('word…')).toBe(true);
  });
});
