import { describe, expect, it } from 'vitest';
import { chunkMarkdown } from '../../server/jobs/crawl/chunk.ts';
import { parseMarkdownLinks, parseSitemap } from '../../server/jobs/crawl/discovery.ts';
import { decodeBody, extractHtml, extractText } from '../../server/jobs/crawl/extract.ts';

const PAGE = `<!doctype html><html><head><title> Install  guide </title>
<script>alert('x')</script><style>.a{}</style></head>
<body>
<header><a href="/">Logo</a> Site header text</header>
<nav><a href="/docs/">Docs</a><a href="/blog?utm_source=nav">Blog</a></nav>
<aside>Sidebar ad</aside>
<main>
<h1>Installing</h1>
<p>Run the <a href="setup#top">setup</a> script. <img src="data:image/png;base64,AAAA" alt="pixel"></p>
<noscript>Enable JS</noscript>
<form><input name="q"></form>
<h2>Linux</h2><p>Use the package.</p>
<a href="mailto:a@b.c">mail</a><a href="https://other.org/x" rel="nofollow">no</a>
</main>
<footer>Copyright footer</footer>
</body></html>`;

describe('extractHtml', () => {
  const page = extractHtml(PAGE, new URL('https://example.com/docs/install/'));

  it('keeps the main content as Markdown, without page chrome or scripts', () => {
    expect(page.title).toBe('Install guide');
    expect(page.markdown).toContain('# Installing');
    expect(page.markdown).toContain('## Linux');
    expect(page.markdown).toContain('[setup](https://example.com/docs/install/setup#top)');
    for (const noise of ['alert', 'Site header', 'Sidebar', 'Copyright', 'Enable JS', 'Docs', 'data:image']) {
      expect(page.markdown).not.toContain(noise);
    }
  });

  it('collects the links of the whole page (navigation too), absolute, without nofollow or mailto', () => {
    expect(page.links).toEqual([
      'https://example.com/',
      'https://example.com/docs/',
      'https://example.com/blog?utm_source=nav',
      'https://example.com/docs/install/setup',
    ]);
  });

  it('falls back to the first h1 for the title, honours meta robots and <base>', () => {
    const html = `<html><head><base href="https://cdn.example.com/root/"><meta name="ROBOTS" content="noindex, nofollow"></head>
      <body><h1>Only  heading</h1><a href="a">a</a><p>text</p></body></html>`;
    const result = extractHtml(html, new URL('https://example.com/x'));
    expect(result.title).toBe('Only heading');
    expect(result).toMatchObject({ noindex: true, nofollow: true, links: [] });
  });

  it('uses body when there is no main element', () => {
    const result = extractHtml('<body><nav>menu</nav><p>Hello <b>world</b></p></body>', new URL('https://example.com/'));
    expect(result.markdown).toBe('Hello **world**');
  });
});

describe('extractText and decodeBody', () => {
  it('stores markdown as is, with its first heading as title and its links', () => {
    const page = extractText('# Guide\n\nSee [API](/api).\n', 'text/markdown', new URL('https://example.com/g.md'));
    expect(page).toMatchObject({ title: 'Guide', markdown: '# Guide\n\nSee [API](/api).', links: ['https://example.com/api'] });
  });

  it('decodes by header charset, then meta charset', () => {
    const latin1 = Buffer.from('<meta charset="iso-8859-1"><p>caf\xe9</p>', 'latin1');
    expect(decodeBody(latin1, null, true)).toContain('café');
    expect(decodeBody(Buffer.from('café'), 'utf-8', false)).toBe('café');
  });
});

describe('chunkMarkdown', () => {
  it('carries the heading path of each chunk', () => {
    const md = 'Intro text.\n\n# Guide\n\nA.\n\n## Install\n\nB.\n\n### Linux\n\nC.\n\n## Use\n\nD.\n\n```\n# not a heading\n\ncode\n```';
    expect(chunkMarkdown(md)).toEqual([
      { heading: null, text: 'Intro text.' },
      { heading: 'Guide', text: 'A.' },
      { heading: 'Guide > Install', text: 'B.' },
      { heading: 'Guide > Install > Linux', text: 'C.' },
      { heading: 'Guide > Use', text: 'D.\n\n```\n# not a heading\n\ncode\n```' },
    ]);
  });

  it('keeps every chunk within the size bound and loses no text', () => {
    const paragraph = (i: number) => `Paragraph ${i} ` + 'word '.repeat(60 + (i % 7) * 20).trim() + '.';
    const long = 'Sentence one is here. '.repeat(200).trim();
    const md = `# Big\n\n${Array.from({ length: 30 }, (_, i) => paragraph(i)).join('\n\n')}\n\n${long}`;
    const chunks = chunkMarkdown(md, 500);
    expect(chunks.length).toBeGreaterThan(10);
    for (const chunk of chunks) {
      expect(chunk.text.length).toBeLessThanOrEqual(500);
      expect(chunk.heading).toBe('Big');
    }
    const words = (s: string) => s.split(/\s+/).filter(Boolean);
    expect(words(chunks.map((c) => c.text).join(' '))).toEqual(words(md.replace('# Big', '')));
  });
});

describe('discovery parsers', () => {
  it('reads sitemaps and sitemap indexes', () => {
    const urlset = `<?xml version="1.0"?><urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">
      <url><loc> https://example.com/a?x=1&amp;y=2 </loc><lastmod>2024-01-01</lastmod></url><url><loc>https://example.com/b</loc></url></urlset>`;
    expect(parseSitemap(urlset)).toEqual({ pages: ['https://example.com/a?x=1&y=2', 'https://example.com/b'], sitemaps: [] });
    const index = `<sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9"><sitemap><loc>https://example.com/s1.xml</loc></sitemap></sitemapindex>`;
    expect(parseSitemap(index)).toEqual({ pages: [], sitemaps: ['https://example.com/s1.xml'] });
    expect(parseSitemap('not xml <<<')).toEqual({ pages: [], sitemaps: [] });
  });

  it('reads llms.txt links', () => {
    const llms = '# Project\n\n> Summary\n\n## Docs\n\n- [Intro](/docs/intro.md): start here\n- [API](https://example.com/api "API") \n- <https://example.com/faq>\n- [mail](mailto:x@y.z)';
    expect(parseMarkdownLinks(llms, new URL('https://example.com/llms.txt'))).toEqual([
      'https://example.com/docs/intro.md',
      'https://example.com/api',
      'https://example.com/faq',
    ]);
  });
});
