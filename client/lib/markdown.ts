// Answers are Markdown written by a language model (or quoted from crawled pages): rendered with
// marked, then sanitised with DOMPurify, so no script, handler or javascript: URL reaches the page.
import DOMPurify from 'dompurify';
import { marked } from 'marked';

// Links open in a new tab and tell the target nothing of this page.
DOMPurify.addHook('afterSanitizeAttributes', (node) => {
  if (node.tagName === 'A' && node.hasAttribute('href')) {
    node.setAttribute('target', '_blank');
    node.setAttribute('rel', 'noopener noreferrer');
  }
});

/** Safe HTML for a Markdown text (GitHub-flavoured: bare URLs become links, fenced code blocks). */
export function renderMarkdown(text: string): string {
  const html = marked.parse(text, { async: false, gfm: true, breaks: true });
  // No images or styles: an answer is text, and a model-written image could be a tracking pixel.
  return DOMPurify.sanitize(html, { USE_PROFILES: { html: true }, FORBID_TAGS: ['img', 'style', 'form', 'input', 'button'] });
}

/**
 * The plain text of a Markdown passage (a search snippet): the syntax (#, **, [text](url), code
 * fences) is dropped, the words kept. DOMParser builds an inert document, so nothing in it runs.
 */
export function markdownToText(text: string): string {
  const html = marked.parse(text, { async: false, gfm: true });
  const body = new DOMParser().parseFromString(html, 'text/html').body;
  body.querySelectorAll('p, li, pre, h1, h2, h3, h4, h5, h6, br, tr').forEach((el) => el.after(' '));
  return (body.textContent ?? '').replace(/\s+/g, ' ').trim();
}
