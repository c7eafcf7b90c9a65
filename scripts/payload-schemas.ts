/**
 * Write the JSON Schema of every MQTT payload to docs/schemas/<topic>.schema.json from the TypeBox schemas
 * in src/report/payloads.ts (the single source of truth). A test fails when the files are out of date.
 *
 *   npx tsx scripts/payload-schemas.ts
 */
import { writeFile } from 'node:fs/promises';
import { payloadJsonSchema, schemaFileName } from '../src/report/json-schemas.js';
import { TOPIC_SCHEMAS, type TopicName } from '../src/report/payloads.js';

for (const topic of Object.keys(TOPIC_SCHEMAS) as TopicName[]) {
  const path = new URL(`../docs/schemas/${schemaFileName(topic)}`, import.meta.url);
  await writeFile(path, `${JSON.stringify(payloadJsonSchema(topic), null, 2)}\n`);
  console.log(`wrote docs/schemas/${schemaFileName(topic)}`);
}
