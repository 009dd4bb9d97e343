import { builder } from './builder.ts';
import './execution.ts';
import './crawl.ts';
import './knowledge.ts';
import './chat.ts';

/** The whole GraphQL schema, built from the type files imported above. */
export const schema = builder.toSchema();
