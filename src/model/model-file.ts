import { readFile, stat } from 'node:fs/promises';
import { Ajv } from 'ajv';
import { CellwatchError } from '../errors.js';
import { ContractSchema, inputWidth, METADATA_KEYS, type ModelContract } from './contract.js';
import { onnx, ONNX_FLOAT, toNumber, type ModelProto } from './onnx-proto.js';
import type { onnx as OnnxTypes } from 'onnx-proto';

/** What onnxruntime-node 1.30 loads; anything outside is refused before a session is created. */
export const SUPPORTED_IR_VERSIONS = { min: 3, max: 11 } as const;
export const SUPPORTED_OPSETS = { min: 7, max: 23 } as const;

export interface ModelInfo {
  contract: ModelContract;
  inputName: string;
  reconstructionName: string;
  /** Name of a per-row score output, when the graph computes one. */
  scoreName: string | undefined;
  irVersion: number;
  opset: number;
  producer: string;
  bytes: Uint8Array;
}

const ajv = new Ajv({ allErrors: true, strict: true });
const validateContract = ajv.compile<ModelContract>(ContractSchema);

/** Decode metadata_props into a contract and validate it against the schema and against itself. */
export function contractFromMetadata(props: ReadonlyMap<string, string>): ModelContract {
  const draft: Record<string, unknown> = {};
  const missing: string[] = [];
  for (const [field, key] of Object.entries(METADATA_KEYS)) {
    const text = props.get(key);
    if (text === undefined) {
      if (field !== 'training') missing.push(key);
      continue;
    }
    if (field === 'modelId') {
      draft[field] = text; // plain text, never JSON: an id "null" or "1.50" stays what it says
      continue;
    }
    try {
      draft[field] = JSON.parse(text);
    } catch {
      draft[field] = text; // the schema check below names the field
    }
  }
  if (missing.length > 0) {
    throw new CellwatchError('MODEL_METADATA', `model metadata lacks ${missing.join(', ')}`, { missing });
  }
  if (!validateContract(draft)) {
    const problems = (validateContract.errors ?? []).map((e) => `${e.instancePath || '/'} ${e.message ?? ''}`);
    throw new CellwatchError('MODEL_METADATA', `invalid model metadata: ${problems.join('; ')}`, { problems });
  }
  checkConsistency(draft);
  return draft;
}

function checkConsistency(contract: ModelContract): void {
  const width = inputWidth(contract.layout);
  const kpis = contract.layout.kpis.length;
  const problems: string[] = [];
  if (contract.scoring.weights.length !== width) {
    problems.push(`scoring.weights has ${contract.scoring.weights.length} entries, input width is ${width}`);
  }
  const { normalization } = contract;
  const allStats = [
    ['fallback', normalization.fallback],
    ...normalization.fallbackByHour.map((s, h) => [`fallbackByHour[${h}]`, s]),
    ...Object.entries(normalization.entities),
  ];
  if (normalization.seasonality === 'hour_of_day' && normalization.fallbackByHour.length !== 24) {
    problems.push('hour_of_day seasonality needs 24 fallbackByHour entries');
  }
  for (const [name, stats] of allStats as [string, ModelContract['normalization']['fallback']][]) {
    if (stats.mean.length !== kpis || stats.std.length !== kpis)
      problems.push(`stats of ${name} do not have ${kpis} KPIs`);
    if (![...stats.mean, ...stats.std].every(Number.isFinite)) problems.push(`stats of ${name} are not finite`);
  }
  if (!contract.scoring.weights.every((w) => Number.isFinite(w) && w >= 0)) {
    problems.push('scoring.weights must be finite and non-negative');
  }
  if (problems.length > 0) {
    throw new CellwatchError('MODEL_METADATA', `inconsistent model metadata: ${problems.join('; ')}`, { problems });
  }
}

/** Decode and check an ONNX model's bytes: IR version, opset, input and output shapes, and metadata. */
export function inspectModelBytes(bytes: Uint8Array): ModelInfo {
  let model: ModelProto;
  try {
    model = onnx.ModelProto.decode(bytes);
  } catch (err) {
    throw new CellwatchError('MODEL_READ', `not an ONNX model: ${(err as Error).message}`, {});
  }
  const graph = model.graph;
  if (!graph) throw new CellwatchError('MODEL_READ', 'the ONNX model has no graph', {});

  const irVersion = toNumber(model.irVersion);
  if (irVersion < SUPPORTED_IR_VERSIONS.min || irVersion > SUPPORTED_IR_VERSIONS.max) {
    throw new CellwatchError('MODEL_IR_VERSION', `IR version ${irVersion} is not supported`, {
      irVersion,
      supported: SUPPORTED_IR_VERSIONS,
    });
  }
  const defaultOpset = model.opsetImport.find((o) => !o.domain || o.domain === 'ai.onnx');
  const opset = toNumber(defaultOpset?.version);
  if (opset < SUPPORTED_OPSETS.min || opset > SUPPORTED_OPSETS.max) {
    throw new CellwatchError('MODEL_OPSET', `opset ${opset} is not supported`, { opset, supported: SUPPORTED_OPSETS });
  }

  const props = new Map(model.metadataProps.map((p) => [p.key ?? '', p.value ?? '']));
  const contract = contractFromMetadata(props);
  const width = inputWidth(contract.layout);

  // Older IR versions list initializers among the inputs; the real input is the one that is not one.
  const initializerNames = new Set((graph.initializer ?? []).map((t) => t.name));
  const inputs = (graph.input ?? []).filter((i) => !initializerNames.has(i.name ?? ''));
  const input = inputs[0];
  if (inputs.length !== 1 || !input) {
    throw new CellwatchError('MODEL_INPUT_TYPE', `model must have one input, has ${inputs.length}`, {});
  }
  const inputShape = tensorShape(input, 'MODEL_INPUT_TYPE');
  if (inputShape.length !== 2) throw new CellwatchError('MODEL_INPUT_TYPE', 'model input must be [N, D]', {});
  if (inputShape[1] !== width) {
    throw new CellwatchError('MODEL_INPUT_WIDTH', `model input width ${inputShape[1]} != ${width} from metadata`, {
      modelWidth: inputShape[1],
      metadataWidth: width,
    });
  }

  const outputs = graph.output ?? [];
  const reconstruction = outputs.find((o) => o.name === 'reconstruction') ?? outputs[0];
  if (!reconstruction) throw new CellwatchError('MODEL_OUTPUT', 'model has no outputs', {});
  const outShape = tensorShape(reconstruction, 'MODEL_OUTPUT');
  if (outShape.length !== 2 || outShape[1] !== width) {
    throw new CellwatchError('MODEL_OUTPUT', `reconstruction must be [N, ${width}]`, { shape: outShape });
  }
  const score = outputs.find((o) => o.name === 'score');
  return {
    contract,
    inputName: input.name ?? 'input',
    reconstructionName: reconstruction.name ?? 'reconstruction',
    scoreName: score?.name ?? undefined,
    irVersion,
    opset,
    producer: `${model.producerName ?? ''} ${model.producerVersion ?? ''}`.trim(),
    bytes,
  };
}

/** Element type must be float32; dimensions are numbers, or -1 for a symbolic (dynamic) one. */
function tensorShape(info: OnnxTypes.IValueInfoProto, code: 'MODEL_INPUT_TYPE' | 'MODEL_OUTPUT') {
  const tensor = info.type?.tensorType;
  if (!tensor || tensor.elemType !== ONNX_FLOAT) {
    throw new CellwatchError(code, `${info.name ?? '?'} is not a float32 tensor`, { elemType: tensor?.elemType });
  }
  return (tensor.shape?.dim ?? []).map((d) => (d.dimParam ? -1 : d.dimValue ? toNumber(d.dimValue) : -1));
}

/** Larger than any dense autoencoder cellwatch runs; refusing earlier keeps /dev/zero from eating memory. */
export const MAX_MODEL_BYTES = 256 * 2 ** 20;

/** A model file's bytes: a regular file of at most MAX_MODEL_BYTES (a device or a FIFO would never end). */
export async function readModelFile(path: string): Promise<Buffer> {
  try {
    const info = await stat(path);
    if (!info.isFile()) throw new Error('not a regular file');
    if (info.size > MAX_MODEL_BYTES) throw new Error(`larger than ${MAX_MODEL_BYTES} bytes`);
    return await readFile(path);
  } catch (err) {
    throw new CellwatchError('MODEL_READ', `cannot read model file ${path}: ${(err as Error).message}`, { path });
  }
}

export async function inspectModelFile(path: string): Promise<ModelInfo> {
  return inspectModelBytes(await readModelFile(path));
}
