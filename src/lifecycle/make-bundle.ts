import type { KeyObject } from 'node:crypto';
import { CellwatchError } from '../errors.js';
import { ModelSession } from '../model/session.js';
import { Rng } from '../rng.js';
import { VERSION } from '../version.js';
import { encodeBundle, sha256Hex } from './bundle.js';
import { MANIFEST_FORMAT, type Golden, type Manifest } from './manifest.js';
import { signManifest } from './signing.js';

export interface MakeBundleOptions {
  /** The agent pipeline the model is for. */
  pipeline: string;
  /** Default: this build's version, so a bundle is never sent to agents older than the tool that made it. */
  minAgentVersion?: string;
  /** Sample inputs whose scores the bundle carries; 0 leaves the golden check out. */
  goldenRows: number;
  /** Without a key the bundle is unsigned: only agents configured to allow unsigned bundles take it. */
  privateKey?: KeyObject;
  createdAt?: Date;
}

export interface MadeBundle {
  bytes: Buffer;
  manifest: Manifest;
  keyId?: string;
}

/** Golden inputs are z-scores: a seeded normal sample, so the same model always gets the same checks. */
const GOLDEN_SEED = 20_261_204;
/** float32 arithmetic differs a little between onnxruntime builds (x64, arm64, other versions). */
const GOLDEN_TOLERANCE = 1e-3;

/**
 * Wrap an ONNX model in a bundle: the manifest takes the model id and version from the model's own contract
 * (so the version a site compares is the one inside the file), the bytes' size and SHA-256, and golden scores
 * computed here with onnxruntime; then the manifest is signed. The model is loaded first, so a file the agent
 * could not run is never signed.
 */
export async function makeBundle(onnx: Uint8Array, options: MakeBundleOptions): Promise<MadeBundle> {
  const session = await ModelSession.fromBytes(onnx);
  let golden: Golden | undefined;
  try {
    if (options.goldenRows > 0) golden = await goldenOf(session, options.goldenRows);
  } finally {
    await session.close();
  }
  const { contract } = session.info;
  const manifest: Manifest = {
    format: MANIFEST_FORMAT,
    modelId: contract.modelId,
    version: contract.modelVersion,
    pipeline: options.pipeline,
    onnxSha256: sha256Hex(onnx),
    onnxBytes: onnx.byteLength,
    createdAt: (options.createdAt ?? new Date()).toISOString(),
    minAgentVersion: options.minAgentVersion ?? VERSION,
    ...(golden ? { golden } : {}),
  };
  const manifestBytes = Buffer.from(JSON.stringify(manifest, null, 2), 'utf8');
  const signature = options.privateKey ? signManifest(manifestBytes, options.privateKey) : undefined;
  return { bytes: encodeBundle(manifestBytes, signature, onnx), manifest, keyId: signature?.keyId };
}

async function goldenOf(session: ModelSession, rows: number): Promise<Golden> {
  if (rows > 64) throw new CellwatchError('USAGE', 'at most 64 golden rows', { rows });
  const rng = new Rng(GOLDEN_SEED);
  const input = new Float32Array(rows * session.width);
  for (let i = 0; i < input.length; i++) input[i] = rng.normal(0, 1);
  const { score } = await session.run(input, rows);
  const inputs = Array.from({ length: rows }, (_, r) => [
    ...input.subarray(r * session.width, (r + 1) * session.width),
  ]);
  return { inputs, scores: [...score], tolerance: GOLDEN_TOLERANCE };
}

/** Run a bundle's golden inputs through a loaded session; the rows whose score is off, with both values. */
export async function checkGolden(
  session: ModelSession,
  golden: Golden,
): Promise<Array<{ row: number; expected: number; got: number }>> {
  if (golden.inputs.length !== golden.scores.length || golden.inputs.some((r) => r.length !== session.width)) {
    throw new CellwatchError(
      'BUNDLE_GOLDEN',
      `the golden inputs do not fit the model: ${golden.inputs.length} rows for ${golden.scores.length} scores, ` +
        `model width ${session.width}`,
    );
  }
  const { score } = await session.run(Float32Array.from(golden.inputs.flat()), golden.inputs.length);
  const off: Array<{ row: number; expected: number; got: number }> = [];
  golden.scores.forEach((expected, row) => {
    const got = score[row] ?? Number.NaN;
    // Relative for large scores, absolute near zero.
    if (!(Math.abs(got - expected) <= golden.tolerance * Math.max(1, Math.abs(expected))))
      off.push({ row, expected, got });
  });
  return off;
}
