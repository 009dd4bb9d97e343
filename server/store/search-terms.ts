/**
 * Turns user text into search terms that no store can mistake for query syntax: only runs of letters
 * and digits survive (so ", *, NEAR, AND, -, : and parentheses are plain words or nothing), lower-cased,
 * de-duplicated and capped. Stop words are dropped when anything else is left, so "what is the port"
 * ranks by "port" and not by every page that says "the".
 */
export function searchTerms(text: string, max = MAX_TERMS): string[] {
  const words = (text.normalize('NFKC').toLowerCase().match(/[\p{L}\p{N}]+/gu) ?? []).filter((w) => w.length <= MAX_TERM_LENGTH);
  const unique = [...new Set(words)];
  const content = unique.filter((w) => !STOP_WORDS.has(w));
  return (content.length > 0 ? content : unique).slice(0, max);
}

/** Whether a word carries no meaning of its own for search (English function words). */
export function isStopWord(word: string): boolean {
  return STOP_WORDS.has(word.toLowerCase());
}

const MAX_TERMS = 32;
const MAX_TERM_LENGTH = 64;

const STOP_WORDS = new Set(
  (
    'a about above after again all am an and any are as at be because been before being below between both but by ' +
    'can could did do does doing down during each few for from further had has have having he her here hers him his ' +
    'how i if in into is it its itself just me more most my no nor not now of off on once only or other our ours out ' +
    'over own same she should so some such than that the their theirs them then there these they this those through ' +
    'to too under until up very was we were what when where which while who whom why will with would you your yours ' +
    'tell please explain describe know say says said use used using does doesn don isn aren wasn s t'
  ).split(' '),
);
