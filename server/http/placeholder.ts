/** Shown at / when the client has not been built (npm start builds it). */
export function placeholderPage(): string {
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Sluice</title></head>
<body style="font-family: system-ui, sans-serif; max-width: 40rem; margin: 4rem auto; line-height: 1.5">
<h1>Sluice</h1>
<p>The web client is not built yet: run <code>npm start</code> (it builds the client), or <code>npm run build:client</code>.</p>
<p>The API is ready: open <a href="/graphql">GraphiQL at /graphql</a>.</p>
</body></html>`;
}
