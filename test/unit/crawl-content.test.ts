import { describe, expect, it } from 'vitest';
import { chunkMarkdown } from '../../server/store/chunk.ts';
import { parseMarkdownLinks, parseSitemap } from '../../server/jobs/crawl/discovery.ts';
import { collapsedLength, decodeBody, extractHtml, extractText, isChrome } from '../../server/jobs/crawl/extract.ts';

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

  it('collects the links of the whole page (navigation too), absolute, without nofollow or mailto, each with its frontier key', () => {
    expect(page.links).toEqual([
      { href: 'https://example.com/', key: 'https://example.com/' },
      { href: 'https://example.com/docs/', key: 'https://example.com/docs' },
      { href: 'https://example.com/blog?utm_source=nav', key: 'https://example.com/blog' },
      { href: 'https://example.com/docs/install/setup', key: 'https://example.com/docs/install/setup' },
    ]);
  });

  it('keeps one link per frontier key, its first href', () => {
    const html = '<body><main><a href="/a/?utm_source=x#top">1</a> <a href="/a">2</a> <a href="/b">3</a> <a href="/a/">4</a></main></body>';
    expect(extractHtml(html, new URL('https://example.com/')).links).toEqual([
      { href: 'https://example.com/a/?utm_source=x', key: 'https://example.com/a' },
      { href: 'https://example.com/b', key: 'https://example.com/b' },
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

// A Sphinx-style page without a <main>: related bars, a sidebar, permalinks, a cookie banner.
const SPHINX = `<!doctype html><html><head><title>Tutorial — Demo docs</title>
<link rel="canonical" href="https://docs.example.com/en/latest/tutorial.html"></head><body>
<div id="cookie-banner">We use cookies. <a href="/privacy">Accept</a></div>
<div class="related" role="navigation" aria-label="related navigation"><ul><li><a href="genindex.html">index</a></li><li><a href="intro.html">previous</a> |</li></ul></div>
<div class="document"><div class="documentwrapper"><div class="bodywrapper"><div class="body">
<div class="section" id="tutorial"><h1>Tutorial<a class="headerlink" href="#tutorial" title="Permalink to this headline">¶</a></h1>
<p>Install the package first, then import it. This paragraph is long enough to be the content of the page, unlike the links around it.</p>
<div class="highlight-python notranslate"><div class="highlight"><pre><span class="kn">import</span> demo
demo.run()</pre></div></div>
<dl class="py function"><dt class="sig" id="demo.run"><code class="sig-name">demo.run</code>()<a class="headerlink" href="#demo.run" title="Permalink to this definition">¶</a></dt>
<dd><p>Runs the demo and returns nothing at all, which is fine for a demo function of this kind.</p></dd></dl>
<pre><code class="language-bash">pip install demo</code></pre>
</div></div></div></div>
<div class="sphinxsidebar" role="navigation" aria-label="main navigation"><div class="sphinxsidebarwrapper">
<h4>Previous topic</h4><p class="topless"><a href="intro.html">Introduction</a></p>
<h4>Next topic</h4><p class="topless"><a href="api.html">API</a></p>
<div role="note" aria-label="source link"><h3>This Page</h3><ul class="this-page-menu"><li><a href="_sources/tutorial.rst.txt" rel="nofollow">Show Source</a></li></ul></div>
</div></div></div>
<div class="footer">&copy; Copyright 2024. Created using Sphinx.</div>
</body></html>`;

describe('extractHtml on a page without a main element', () => {
  const page = extractHtml(SPHINX, new URL('https://docs.example.com/en/latest/tutorial.html'));

  it('keeps the content and drops the chrome around it', () => {
    expect(page.markdown).toBe(
      [
        '# Tutorial',
        'Install the package first, then import it. This paragraph is long enough to be the content of the page, unlike the links around it.',
        '```python\nimport demo\ndemo.run()\n```',
        '**`demo.run`()**',
        'Runs the demo and returns nothing at all, which is fine for a demo function of this kind.',
        '```bash\npip install demo\n```',
      ].join('\n\n'),
    );
    for (const chrome of ['¶', 'Permalink', 'cookies', 'Previous topic', 'Next topic', 'Show Source', 'Copyright', 'index']) {
      expect(page.markdown).not.toContain(chrome);
    }
  });

  it('reads rel=canonical', () => {
    expect(page.canonical).toBe('https://docs.example.com/en/latest/tutorial.html');
  });

  it('weighs no script or style text: a block holding a large inline script is not taken for the content', () => {
    const html = `<html><body><div class="widgets"><script>${'var x = 1; '.repeat(500)}</script><style>${'.a { color: red } '.repeat(200)}</style></div>
      <div class="text"><p>The page's only readable text, far shorter than the script beside it.</p></div></body></html>`;
    expect(extractHtml(html, new URL('https://example.com/')).markdown).toBe("The page's only readable text, far shorter than the script beside it.");
  });
});

describe('extractText and decodeBody', () => {
  it('stores markdown as is, with its first heading as title and its links', () => {
    const page = extractText('# Guide\n\nSee [API](/api).\n', 'text/markdown', new URL('https://example.com/g.md'));
    expect(page).toMatchObject({ title: 'Guide', markdown: '# Guide\n\nSee [API](/api).', links: [{ href: 'https://example.com/api', key: 'https://example.com/api' }] });
  });

  it('decodes by byte order mark, then header charset, then meta charset', () => {
    const latin1 = Buffer.from('<meta charset="iso-8859-1"><p>caf\xe9</p>', 'latin1');
    expect(decodeBody(latin1, null, true)).toContain('café');
    const equiv = Buffer.from('<meta http-equiv="Content-Type" content="text/html; charset=iso-8859-2"><p>Gda\xf1sk \xb1</p>', 'latin1');
    expect(decodeBody(equiv, null, true)).toContain('Gdańsk ą');
    expect(decodeBody(Buffer.from('café'), 'utf-8', false)).toBe('café');
    // the BOM wins over a wrong header, and is not part of the text
    const bom = Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from('<p>café</p>')]);
    expect(decodeBody(bom, 'iso-8859-1', true)).toBe('<p>café</p>');
    const utf16 = Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from('<p>café</p>', 'utf16le')]);
    expect(decodeBody(utf16, null, true)).toBe('<p>café</p>');
  });
});

describe('chunkMarkdown', () => {
  it('keeps the text of links and drops their targets, outside code', () => {
    const md = '# See [the guide](https://x.example/g.html)\n\nRun [`CREATE INDEX`](https://x.example/sql-createindex.html) or ![logo](https://x.example/l.png) now.\n\n```\n[a](b)\n```';
    expect(chunkMarkdown(md)).toEqual([{ heading: 'See the guide', text: 'Run `CREATE INDEX` or logo now.\n\n```\n[a](b)\n```' }]);
  });

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

describe('text weights of the main-content fallback', () => {
  it('collapsedLength is the length of the text with whitespace runs collapsed and trimmed, for every kind of JavaScript whitespace', () => {
    const pieces = ['a', 'bc', ' ', '  ', '\t', '\n', '\r\n', '\u00a0', '\u2003', '\u3000', '\ufeff', '\u200b', 'é', '\u0085'];
    let seed = 7;
    const next = () => (seed = (seed * 48271) % 2147483647);
    for (let n = 0; n < 2000; n++) {
      const text = Array.from({ length: next() % 12 }, () => pieces[next() % pieces.length]).join('');
      expect(collapsedLength(text)).toBe(text.replace(/\s+/g, ' ').trim().length);
    }
  });

  it('isChrome judges the same class words alike on every element, cached or not', () => {
    const el = (attribs: Record<string, string>) => ({ name: 'div', attribs, parent: null }) as unknown as Parameters<typeof isChrome>[0];
    for (let round = 0; round < 2; round++) {
      expect(isChrome(el({ class: 'navheader' }))).toBe(true);
      expect(isChrome(el({ class: 'sect1', id: 'x' }))).toBe(false);
      expect(isChrome(el({ class: 'a cookie-banner' }))).toBe(true);
      expect(isChrome(el({ class: '  ' }))).toBe(false);
      expect(isChrome(el({ id: 'sidebar' }))).toBe(true);
    }
  });
});

describe('extractText tidies what it stores', () => {
  it('line endings made \\n, spaces and tabs at line ends dropped (before \\u2028 too), blank runs made one', () => {
    const text = 'a  \r\nb\t\rc \u2028d\n\n\n\ne \t';
    expect(extractText(text, 'text/plain', new URL('https://example.com/')).markdown).toBe('a\nb\nc\u2028d\n\ne');
    expect(extractText('plain line', 'text/plain', new URL('https://example.com/')).markdown).toBe('plain line');
  });
});
