import { readFileSync } from 'node:fs';
import { parse, buildSchema, printSchema } from 'graphql';
import { describe, expect, it } from 'vitest';
import { printedSchema, SCHEMA_FILE } from '../../server/schema/print.ts';

describe('schema/schema.graphql', () => {
  it('is what the code prints (run `npm run schema:print` after changing the schema)', () => {
    expect(readFileSync(SCHEMA_FILE, 'utf8')).toBe(printedSchema());
  });

  it('contains every type, field and argument of the public contract', () => {
    const ours = buildSchema(printedSchema());
    const contract = parse(readFileSync(new URL('../../schema/contract.graphql', import.meta.url), 'utf8'));
    const missing: string[] = [];
    for (const def of contract.definitions) {
      if (!('name' in def) || !def.name) continue;
      const type = ours.getType(def.name.value);
      if (!type) {
        missing.push(def.name.value);
        continue;
      }
      const fields = 'fields' in def ? (def.fields ?? []) : [];
      const ourFields = 'getFields' in type ? (type.getFields() as Record<string, { args?: readonly { name: string }[]; type: unknown }>) : {};
      for (const field of fields) {
        const ourField = ourFields[field.name.value];
        if (!ourField) {
          missing.push(`${def.name.value}.${field.name.value}`);
          continue;
        }
        for (const arg of 'arguments' in field ? (field.arguments ?? []) : []) {
          if (!ourField.args?.some((a) => a.name === arg.name.value)) missing.push(`${def.name.value}.${field.name.value}(${arg.name.value})`);
        }
      }
      if ('values' in def) {
        const values = ('getValues' in type ? type.getValues() : []).map((v: { name: string }) => v.name);
        for (const v of def.values ?? []) if (!values.includes(v.name.value)) missing.push(`${def.name.value}.${v.name.value}`);
      }
    }
    expect(missing).toEqual([]);
    expect(printSchema(ours)).toContain('jobProgress');
  });
});
