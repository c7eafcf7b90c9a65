import { writeFile } from 'node:fs/promises';
import { METADATA_KEYS, type ModelContract } from './contract.js';
import type { DenseLayer } from './network.js';
import { onnx, ONNX_FLOAT } from './onnx-proto.js';

/** IR version 8 and opset 17: loaded by every onnxruntime from 1.13 on, and by current PyTorch exports. */
export const EXPORT_IR_VERSION = 8;
export const EXPORT_OPSET = 17;

const ATTRIBUTE_INT = 2;

function floatTensor(name: string, dims: number[], values: ArrayLike<number>) {
  const data = Float32Array.from(values);
  return onnx.TensorProto.create({
    name,
    dims,
    dataType: ONNX_FLOAT,
    rawData: new Uint8Array(data.buffer, data.byteOffset, data.byteLength),
  });
}

function tensorInfo(name: string, dims: (number | string)[]) {
  return onnx.ValueInfoProto.create({
    name,
    type: {
      tensorType: {
        elemType: ONNX_FLOAT,
        shape: { dim: dims.map((d) => (typeof d === 'number' ? { dimValue: d } : { dimParam: d })) },
      },
    },
  });
}

/** Round weights to float32 so the TypeScript forward pass computes with exactly what the ONNX file holds. */
export function roundToFloat32(layers: readonly DenseLayer[]): DenseLayer[] {
  return layers.map((l) => ({
    ...l,
    weights: Float64Array.from(Float32Array.from(l.weights)),
    bias: Float64Array.from(Float32Array.from(l.bias)),
  }));
}

/** Flatten a contract into metadata_props: JSON text for objects, plain text for scalars. */
export function contractToMetadata(contract: ModelContract): { key: string; value: string }[] {
  const props: { key: string; value: string }[] = [];
  for (const [field, key] of Object.entries(METADATA_KEYS) as [keyof ModelContract, string][]) {
    const value = contract[field];
    if (value === undefined) continue;
    props.push({ key, value: typeof value === 'object' ? JSON.stringify(value) : String(value) });
  }
  return props;
}

/**
 * Build the ONNX model: input [N, D] → Gemm/Tanh stack → `reconstruction` [N, D], plus a `score` [N] output
 * computed in the graph as Σ_j weight_j (input_j − reconstruction_j)², so any runtime gets the same score.
 */
export function buildOnnxModel(layers: readonly DenseLayer[], contract: ModelContract, producerVersion: string) {
  const width = layers[0]?.inputs ?? 0;
  const nodes: InstanceType<typeof onnx.NodeProto>[] = [];
  const initializers: InstanceType<typeof onnx.TensorProto>[] = [];
  let current = 'input';
  layers.forEach((layer, l) => {
    const last = l === layers.length - 1;
    const gemmOut = last && layer.activation === 'linear' ? 'reconstruction' : `z${l}`;
    initializers.push(floatTensor(`W${l}`, [layer.outputs, layer.inputs], layer.weights));
    initializers.push(floatTensor(`b${l}`, [layer.outputs], layer.bias));
    nodes.push(
      onnx.NodeProto.create({
        opType: 'Gemm',
        name: `dense${l}`,
        input: [current, `W${l}`, `b${l}`],
        output: [gemmOut],
        attribute: [{ name: 'transB', type: ATTRIBUTE_INT, i: 1 }],
      }),
    );
    current = gemmOut;
    if (layer.activation === 'tanh') {
      const tanhOut = last ? 'reconstruction' : `a${l}`;
      nodes.push(onnx.NodeProto.create({ opType: 'Tanh', name: `tanh${l}`, input: [current], output: [tanhOut] }));
      current = tanhOut;
    }
  });

  initializers.push(floatTensor('score_weights', [width], contract.scoring.weights));
  initializers.push(
    onnx.TensorProto.create({ name: 'score_axes', dims: [1], dataType: 7, int64Data: [1] }), // INT64
  );
  nodes.push(
    onnx.NodeProto.create({ opType: 'Sub', name: 'residual', input: ['input', 'reconstruction'], output: ['diff'] }),
    onnx.NodeProto.create({ opType: 'Mul', name: 'square', input: ['diff', 'diff'], output: ['sq'] }),
    onnx.NodeProto.create({ opType: 'Mul', name: 'weigh', input: ['sq', 'score_weights'], output: ['wsq'] }),
    onnx.NodeProto.create({
      opType: 'ReduceSum',
      name: 'score_sum',
      input: ['wsq', 'score_axes'],
      output: ['score'],
      attribute: [{ name: 'keepdims', type: ATTRIBUTE_INT, i: 0 }],
    }),
  );

  return onnx.ModelProto.create({
    irVersion: EXPORT_IR_VERSION,
    opsetImport: [{ domain: '', version: EXPORT_OPSET }],
    producerName: 'cellwatch',
    producerVersion,
    modelVersion: contract.modelVersion,
    docString: 'cellwatch autoencoder: reconstruction error is the anomaly score',
    graph: {
      name: contract.modelId,
      node: nodes,
      initializer: initializers,
      input: [tensorInfo('input', ['N', width])],
      output: [tensorInfo('reconstruction', ['N', width]), tensorInfo('score', ['N'])],
    },
    metadataProps: contractToMetadata(contract),
  });
}

export function encodeModel(model: InstanceType<typeof onnx.ModelProto>): Uint8Array {
  return onnx.ModelProto.encode(model).finish();
}

export async function writeOnnxModel(
  path: string,
  layers: readonly DenseLayer[],
  contract: ModelContract,
  producerVersion: string,
): Promise<number> {
  const bytes = encodeModel(buildOnnxModel(layers, contract, producerVersion));
  await writeFile(path, bytes);
  return bytes.byteLength;
}
