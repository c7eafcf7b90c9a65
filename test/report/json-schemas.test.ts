import { readFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { payloadJsonSchema, schemaFileName } from '../../src/report/json-schemas.js';
import { TOPIC_SCHEMAS, type TopicName } from '../../src/report/payloads.js';

describe('published payload schemas', () => {
  it.each(Object.keys(TOPIC_SCHEMAS) as TopicName[])('docs/schemas/%s.schema.json matches the code', async (topic) => {
    const url = new URL(`../../docs/schemas/${schemaFileName(topic)}`, import.meta.url);
    const published = JSON.parse(await readFile(url, 'utf8')) as unknown;
    // Out of date: run `npx tsx scripts/payload-schemas.ts`.
    expect(published).toEqual(payloadJsonSchema(topic));
  });
});
