import { TOPIC_SCHEMAS, type TopicName } from './payloads.js';

/**
 * A payload schema as a standalone JSON Schema document (draft 2020-12) for the central side: the TypeBox
 * schema with its $schema and $id, and TypeBox's own symbol keys gone (JSON.stringify drops them).
 */
/** The file name of a topic's schema in docs/schemas: "model/result" is model-result.schema.json. */
export function schemaFileName(topic: TopicName): string {
  return `${topic.replace('/', '-')}.schema.json`;
}

export function payloadJsonSchema(topic: TopicName): Record<string, unknown> {
  return {
    $schema: 'https://json-schema.org/draft/2020-12/schema',
    $id: `urn:cellwatch:payload:${topic}`,
    title: `cellwatch ${topic} payload (topic <prefix>/<site>/${topic})`,
    ...(JSON.parse(JSON.stringify(TOPIC_SCHEMAS[topic])) as Record<string, unknown>),
  };
}
