import { Type, type Static } from '@sinclair/typebox';
import { Ajv } from 'ajv';
import { CellwatchError } from '../errors.js';

/**
 * The manifest of a model bundle: what the central side promises about the ONNX bytes it ships, signed as a
 * whole. The agent decides from it whether a bundle is for it (pipeline, agent version), newer than what it
 * runs (version), and whether the bytes are the ones that were signed (size, SHA-256). This schema is the one
 * source of truth for the type and for the check of a manifest read from a bundle.
 */
export const MANIFEST_FORMAT = 'cellwatch-bundle/1';

const Hex64 = Type.String({ pattern: '^[0-9a-f]{64}$' });

/** Sample inputs with the scores the model must give them: the bundle proves itself on the box. */
export const GoldenSchema = Type.Object(
  {
    /** Rows of the model's input width, as float32 values. */
    inputs: Type.Array(Type.Array(Type.Number()), { minItems: 1, maxItems: 64 }),
    /** The model's score for each input row. */
    scores: Type.Array(Type.Number(), { minItems: 1, maxItems: 64 }),
    /** Allowed absolute difference, for runtimes that round differently. */
    tolerance: Type.Number({ exclusiveMinimum: 0, maximum: 1 }),
  },
  { additionalProperties: false },
);

export const ManifestSchema = Type.Object(
  {
    format: Type.Literal(MANIFEST_FORMAT),
    modelId: Type.String({ minLength: 1, maxLength: 128 }),
    /** Strictly increasing per pipeline: a site refuses a version at or below the one it runs. */
    version: Type.Integer({ minimum: 1 }),
    /** The pipeline of the agent's configuration this model is for. */
    pipeline: Type.String({ minLength: 1, maxLength: 64 }),
    onnxSha256: Hex64,
    onnxBytes: Type.Integer({ minimum: 1 }),
    createdAt: Type.String({ format: 'date-time' }),
    /** Agents older than this refuse the bundle (semver, x.y.z). */
    minAgentVersion: Type.String({ pattern: '^\\d+\\.\\d+\\.\\d+$' }),
    golden: Type.Optional(GoldenSchema),
  },
  { additionalProperties: false },
);

export type Manifest = Static<typeof ManifestSchema>;
export type Golden = Static<typeof GoldenSchema>;

// The date-time format is checked by hand (Date.parse) so ajv-formats is not needed for one field.
const ajv = new Ajv({ allErrors: true, strict: true, formats: { 'date-time': (s: string) => isDateTime(s) } });
const validate = ajv.compile<Manifest>(ManifestSchema);

function isDateTime(text: string): boolean {
  return /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/.test(text) && !isNaN(Date.parse(text));
}

/** Check parsed JSON against the manifest schema; every problem is named. */
export function checkManifest(data: unknown): Manifest {
  if (validate(data)) return data;
  const problems = (validate.errors ?? []).map((e) => `${e.instancePath || '/'} ${e.message ?? 'is invalid'}`);
  throw new CellwatchError('BUNDLE_FORMAT', `the bundle manifest is invalid: ${problems.join('; ')}`, { problems });
}

/** Compare x.y.z versions: negative, zero or positive as a is older, equal or newer than b. */
export function compareVersions(a: string, b: string): number {
  const pa = a.split('.').map(Number);
  const pb = b.split('.').map(Number);
  for (let i = 0; i < 3; i++) {
    const d = (pa[i] ?? 0) - (pb[i] ?? 0);
    if (d !== 0) return d;
  }
  return 0;
}
