import { readFileSync } from 'node:fs';
import { Ajv2020 } from 'ajv/dist/2020.js';
import addFormatsModule from 'ajv-formats';
import { expect } from 'vitest';

// ajv-formats is CommonJS: its default export arrives as the module object under ESM.
const addFormats = addFormatsModule as unknown as typeof addFormatsModule.default;
const ajv = new Ajv2020({ allErrors: true, strict: false });
addFormats(ajv);

/** The published JSON Schemas (docs/schemas), exactly as a central consumer would use them. */
function schemaFor(topic: string): object {
  const url = new URL(`../../docs/schemas/${topic.replace('/', '-')}.schema.json`, import.meta.url);
  return JSON.parse(readFileSync(url, 'utf8')) as object;
}

const validators = new Map<string, ReturnType<typeof ajv.compile>>();

/** Fail the test, naming the problem, when a payload does not match its topic's published schema. */
export function validatePayload(topic: string, body: unknown): void {
  let validate = validators.get(topic);
  if (!validate) {
    validate = ajv.compile(schemaFor(topic));
    validators.set(topic, validate);
  }
  const ok = validate(body);
  expect(ok ? [] : validate.errors, `${topic} payload ${JSON.stringify(body).slice(0, 200)}`).toEqual([]);
}

/** Validate a message received on <prefix>/<site>/<name> against the schema of <name> ("health", "model/state"). */
export function validateMessage(topic: string, body: unknown): void {
  validatePayload(topic.split('/').slice(2).join('/'), body);
}
