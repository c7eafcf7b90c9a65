import type { KeyObject } from 'node:crypto';
import { encodeBundle, sha256Hex } from '../../src/lifecycle/bundle.js';
import { MANIFEST_FORMAT, type Manifest } from '../../src/lifecycle/manifest.js';
import { signManifest } from '../../src/lifecycle/signing.js';
import type { Layout, ModelContract } from '../../src/model/contract.js';
import { encodeModel } from '../../src/model/onnx-export.js';
import { onnx } from '../../src/model/onnx-proto.js';
import { VERSION } from '../../src/version.js';
import { contractFor, randomModel, SMALL_LAYOUT } from '../helpers.js';

/**
 * Models and bundles for the lifecycle tests, good and bad, built from the ONNX format itself. The bad ones
 * are what a central mistake or an attacker could send: no file here is copied from anywhere.
 */

export interface ModelOptions {
  layout?: Layout;
  contract?: Partial<ModelContract>;
  irVersion?: number;
  /** Make onnxruntime allocate this many float32 values when it loads or runs the model. */
  bombFloats?: number;
  seed?: number;
}

/** A small autoencoder of the test layout (KPIs a, b, c; threshold 1) with the given version. */
export function modelBytes(version: number, options: ModelOptions = {}): Uint8Array {
  const layout = options.layout ?? SMALL_LAYOUT;
  const contract = contractFor(layout, { modelId: 'cells-ae', modelVersion: version, ...options.contract });
  const { proto } = randomModel(layout, options.seed ?? 3, contract);
  if (options.irVersion !== undefined) proto.irVersion = options.irVersion;
  if (options.bombFloats !== undefined) addMemoryBomb(proto, options.bombFloats);
  return encodeModel(proto);
}

/**
 * Route the score through a huge constant: ConstantOfShape([n]) summed and added to every score. The graph is
 * valid and its inputs and outputs are what the contract says, so every static check passes; only running it
 * (or onnxruntime's constant folding at load) finds out, by allocating n × 4 bytes.
 */
function addMemoryBomb(proto: ReturnType<typeof randomModel>['proto'], floats: number): void {
  const graph = proto.graph!;
  const sum = graph.node!.find((n) => n.output?.[0] === 'score')!;
  sum.output = ['score_clean'];
  graph.initializer!.push(onnx.TensorProto.create({ name: 'bomb_shape', dims: [1], dataType: 7, int64Data: [floats] }));
  graph.node!.push(
    onnx.NodeProto.create({ opType: 'ConstantOfShape', input: ['bomb_shape'], output: ['bomb'] }),
    onnx.NodeProto.create({
      opType: 'ReduceSum',
      input: ['bomb'],
      output: ['bomb_sum'],
      attribute: [{ name: 'keepdims', type: 2, i: 0 }],
    }),
    onnx.NodeProto.create({ opType: 'Add', input: ['score_clean', 'bomb_sum'], output: ['score'] }),
  );
}

/**
 * A bundle of any ONNX bytes, built without loading them (cellwatch model sign refuses to sign a model it
 * cannot run, so a bad model can only reach a site this way). The manifest describes the bytes truthfully.
 */
export function rawBundle(
  onnxBytes: Uint8Array,
  fields: { pipeline: string; version: number; modelId?: string },
  key?: KeyObject,
): Buffer {
  const manifest: Manifest = {
    format: MANIFEST_FORMAT,
    modelId: fields.modelId ?? 'cells-ae',
    version: fields.version,
    pipeline: fields.pipeline,
    onnxSha256: sha256Hex(onnxBytes),
    onnxBytes: onnxBytes.byteLength,
    createdAt: new Date().toISOString(),
    minAgentVersion: VERSION,
  };
  const manifestBytes = Buffer.from(JSON.stringify(manifest), 'utf8');
  return encodeBundle(manifestBytes, key ? signManifest(manifestBytes, key) : undefined, onnxBytes);
}
