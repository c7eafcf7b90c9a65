import { readFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { inputColumns, inputWidth, type ModelContract } from '../../src/model/contract.js';
import { inspectModelBytes } from '../../src/model/model-file.js';
import { forwardBatch } from '../../src/model/network.js';
import { buildOnnxModel, encodeModel } from '../../src/model/onnx-export.js';
import { onnx } from '../../src/model/onnx-proto.js';
import { ModelSession } from '../../src/model/session.js';
import { Rng } from '../../src/rng.js';
import { contractFor, randomModel, SMALL_LAYOUT, thrown } from '../helpers.js';

function reencode(mutate: (m: InstanceType<typeof onnx.ModelProto>) => void): Uint8Array {
  const { proto } = randomModel(SMALL_LAYOUT);
  const copy = onnx.ModelProto.decode(encodeModel(proto));
  mutate(copy);
  return encodeModel(copy);
}

describe('ONNX export and onnxruntime parity', () => {
  it('onnxruntime and the TypeScript forward pass agree within 1e-5 on reconstruction and score', async () => {
    const { layers, bytes } = randomModel(SMALL_LAYOUT);
    const session = await ModelSession.fromBytes(bytes);
    const width = inputWidth(SMALL_LAYOUT);
    const rng = new Rng(9);
    const rows = 257;
    const input = Float32Array.from({ length: rows * width }, () => rng.normal(0, 2));
    const { reconstruction, score } = await session.run(input, rows);
    const ts = forwardBatch(layers, Float64Array.from(input), rows).at(-1) as Float64Array;
    const weights = contractFor(SMALL_LAYOUT).scoring.weights;
    let worst = 0;
    let worstScore = 0;
    for (let n = 0; n < rows; n++) {
      let s = 0;
      for (let j = 0; j < width; j++) {
        const i = n * width + j;
        worst = Math.max(worst, Math.abs((reconstruction[i] as number) - (ts[i] as number)));
        s += (weights[j] as number) * ((input[i] as number) - (ts[i] as number)) ** 2;
      }
      worstScore = Math.max(worstScore, Math.abs((score[n] as number) - s));
    }
    expect(worst).toBeLessThan(1e-5);
    expect(worstScore).toBeLessThan(1e-5);
    await session.close();
  });

  it('carries the whole contract in metadata_props and reads it back unchanged', () => {
    const contract: ModelContract = {
      ...contractFor(SMALL_LAYOUT),
      training: {
        variant: 'context',
        rows: 10,
        validationRows: 2,
        skippedRows: 1,
        epochs: 3,
        bestEpoch: 2,
        trainLoss: 0.5,
        validationLoss: 0.6,
        seed: 1,
        durationS: 0.1,
        createdAt: '2026-12-03T00:00:00.000Z',
        hidden: [5],
        bottleneck: 2,
        learningRate: 0.001,
        batchSize: 64,
      },
    };
    const { bytes } = randomModel(SMALL_LAYOUT, 3, contract);
    const info = inspectModelBytes(bytes);
    expect(info.contract).toEqual(contract);
    expect([info.irVersion, info.opset, info.inputName, info.scoreName]).toEqual([8, 17, 'input', 'score']);
    expect(inputColumns(SMALL_LAYOUT)).toEqual([
      'a',
      'b',
      'c',
      'a@t-1',
      'b@t-1',
      'c@t-1',
      'frozen_share',
      'hour_of_day_sin',
      'hour_of_day_cos',
    ]);
  });
});

describe('model rejection', () => {
  it('refuses a file that is not ONNX with MODEL_READ', () => {
    expect(thrown(() => inspectModelBytes(new TextEncoder().encode('hello, I am not a model'))).code).toBe(
      'MODEL_READ',
    );
  });

  it('refuses a model without cellwatch metadata with MODEL_METADATA naming the missing keys', () => {
    const bytes = reencode((m) => (m.metadataProps = []));
    const err = thrown(() => inspectModelBytes(bytes));
    expect(err.code).toBe('MODEL_METADATA');
    expect(err.message).toContain('cellwatch.layout');
  });

  it('refuses metadata that fails the schema, with the path of the problem', () => {
    const bytes = reencode((m) => {
      const entry = m.metadataProps.find((p) => p.key === 'cellwatch.scoring');
      if (entry) entry.value = JSON.stringify({ weights: [1], threshold: -1, thresholdPercentile: 95 });
    });
    const err = thrown(() => inspectModelBytes(bytes));
    expect(err.code).toBe('MODEL_METADATA');
    expect(err.message).toContain('/scoring/threshold must be >= 0');
  });

  it('refuses a graph whose input width disagrees with the metadata with MODEL_INPUT_WIDTH', () => {
    const layout = { ...SMALL_LAYOUT, window: 1 };
    const { layers } = randomModel(SMALL_LAYOUT);
    const proto = buildOnnxModel(layers, contractFor(layout), 'test');
    // Layers expect the 2-row window (9 columns); the metadata promises 6.
    expect(thrown(() => inspectModelBytes(encodeModel(proto))).code).toBe('MODEL_INPUT_WIDTH');
  });

  it('refuses an unsupported IR version and opset', () => {
    expect(thrown(() => inspectModelBytes(reencode((m) => (m.irVersion = 99)))).code).toBe('MODEL_IR_VERSION');
    expect(thrown(() => inspectModelBytes(reencode((m) => (m.opsetImport = [{ domain: '', version: 99 }])))).code).toBe(
      'MODEL_OPSET',
    );
  });

  it('refuses a non-float input with MODEL_INPUT_TYPE', () => {
    const bytes = reencode((m) => {
      const input = m.graph?.input?.[0];
      if (input?.type?.tensorType) input.type.tensorType.elemType = 7; // INT64
    });
    expect(thrown(() => inspectModelBytes(bytes)).code).toBe('MODEL_INPUT_TYPE');
  });

  it('refuses to score NaN or Infinity instead of returning a normal-looking score', async () => {
    const session = await ModelSession.fromBytes(randomModel(SMALL_LAYOUT).bytes);
    const input = new Float32Array(inputWidth(SMALL_LAYOUT)).fill(0.5);
    input[4] = Number.NaN;
    await expect(session.run(input, 1)).rejects.toMatchObject({
      code: 'SCORE_NON_FINITE',
      details: { row: 0, column: 4 },
    });
    input[4] = Number.POSITIVE_INFINITY;
    await expect(session.run(input, 1)).rejects.toMatchObject({ code: 'SCORE_NON_FINITE' });
    await session.close();
  });
});

describe('a model exported by PyTorch', () => {
  const fixture = new URL('../fixtures/', import.meta.url);

  it('loads under the contract and scores exactly as PyTorch computed', async () => {
    const bytes = await readFile(new URL('torch-ae.onnx', fixture));
    const expected = JSON.parse(await readFile(new URL('torch-ae.expected.json', fixture), 'utf8')) as {
      inputs: number[][];
      reconstruction: number[][];
      score: number[];
    };
    const session = await ModelSession.fromBytes(bytes);
    expect(session.info.contract.modelId).toBe('torch-fixture');
    expect(session.info.contract.modelVersion).toBe(3);
    expect(session.info.scoreName).toBeUndefined();
    expect(session.info.producer).toMatch(/pytorch/);
    const rows = expected.inputs.length;
    const { reconstruction, score } = await session.run(Float32Array.from(expected.inputs.flat()), rows);
    const recon = expected.reconstruction.flat();
    for (let i = 0; i < recon.length; i++)
      expect(Math.abs((reconstruction[i] as number) - (recon[i] as number))).toBeLessThan(1e-5);
    for (let n = 0; n < rows; n++)
      expect(Math.abs((score[n] as number) - (expected.score[n] as number))).toBeLessThan(1e-5);
    await session.close();
  });
});
