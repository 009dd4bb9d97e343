// The body of a page-pool worker thread: fetched bytes in, a built page (Markdown, chunks, hash, links) out.
import { buildPage, type BuiltPage, type PageTask } from './page.ts';

export default function build(task: PageTask): BuiltPage {
  return buildPage(task);
}
