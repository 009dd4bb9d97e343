// The usage text: `sluice --help`, `sluice <command> --help`, and the source of docs/cli.md.

export const COMMAND_HELP = {
  crawl: `sluice crawl <url> [options]
  Starts a crawl of <url> into the knowledge base and prints its id.
  --follow               watch it to the end (as \`sluice watch\`) and exit with its exit code
  --depth <n>            link hops from the start page (server default 2)
  --max-pages <n>        at most this many pages (server default 100)
  --include <glob>       only URLs matching a glob (repeatable)
  --exclude <glob>       skip URLs matching a glob (repeatable)
  --no-robots            ignore robots.txt
  --session <id>         group it under this session id
  --priority <n>         -10..10 (default 0): higher is claimed first
  --time-limit <s>       stop after this many seconds of crawling (across pauses), SUCCEEDED with what it has
  --json                 print the execution as JSON (with --follow, then its events as NDJSON)`,
  ls: `sluice ls [options]
  Lists active executions (QUEUED, RUNNING, CANCELLING, PAUSED), oldest first.
  --all                  history instead: every execution, newest first
  --limit <n>            with --all, how many (default 50, at most 500)
  --kind <CRAWL|CHAT>    only this kind
  --session <id>         only this session
  --json                 print a JSON array`,
  cancel: `sluice cancel <id> [--reason <text>]
sluice cancel --session <id> [--kind <CRAWL|CHAT>] [--reason <text>]
  Cancels one execution, or every active one of a session. Cancelling something that has already
  ended is not an error: it prints the status it ended with.
  --json                 print the result as JSON`,
  pause: `sluice pause <id>... [--reason <text>]
sluice pause --session <id> [--kind <CRAWL|CHAT>] [--reason <text>]
  Pauses executions (QUEUED or RUNNING): their code stops, their checkpoint stays. A chat answer
  cannot resume, so pausing one is refused (exit 2). With several ids or --session, pauses every
  one that matches and can.
  --json                 print the result as JSON`,
  resume: `sluice resume <id>... | sluice resume --session <id> [--kind <CRAWL|CHAT>]
  Queues paused executions again; each continues from its checkpoint (attempt + 1).
  --json                 print the result as JSON`,
  watch: `sluice watch <id> [options]
  Follows an execution's events to its end: a live progress line on a terminal, one line per
  event otherwise. Reconnects by itself (without missing or repeating events) if the connection drops.
  --after <seq>          start after this event (default 0: replay every event)
  --json                 print the events as NDJSON`,
} as const;

export type CommandName = keyof typeof COMMAND_HELP;

export const USAGE = `Usage: sluice <command> [options]

Runs and controls Sluice executions through the GraphQL API.

Commands:
${Object.values(COMMAND_HELP)
  .map((text) => text.replace(/^/gm, '  '))
  .join('\n\n')}

Options for every command:
  --url <url>            the server (default: $SLUICE_URL, else http://127.0.0.1:4000)
  -h, --help             this help

Environment:
  SLUICE_URL             the server's base URL
  SLUICE_TOKEN           API token, sent as "Authorization: Bearer <token>" (needs the read,
                         execute or cancel scope for what you do)

Ctrl-C during \`crawl --follow\` or \`watch\` only stops watching: the execution keeps running on
the server. Stop it with \`sluice cancel <id>\`.

Exit codes:
  0    the execution SUCCEEDED (or the command did what it was asked)
  1    the execution FAILED, or an unexpected error
  2    usage error (bad option or argument, or input the server refused: BAD_USER_INPUT, CONFLICT)
  3    the execution was CANCELLED
  4    the execution was INTERRUPTED
  5    cannot reach the server, or it refused the token
  6    no such execution (NOT_FOUND)
  130  Ctrl-C: stopped watching (the execution was not stopped)
`;
