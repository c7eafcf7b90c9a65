import * as ort from 'onnxruntime-node';
import { CellwatchError } from '../errors.js';
import { inputWidth } from './contract.js';
import { inspectModelBytes, inspectModelFile, type ModelInfo } from './model-file.js';

// onnxruntime 1.30 keeps a device id and a usage database under the user's cache folder when it makes its first
// session; the service user's home is the state directory, and a site controller is no place for either. It reads
// the variable then, so setting it here, after the import, is in time. An operator's own setting stands.
process.env.ORT_DISABLE_TELEMETRY ??= '1';

export interface ScoredBatch {
  /** Row-major [rows × width]. */
  reconstruction: Float32Array;
  score: Float32Array;
}

export interface SessionOptions {
  /** One thread by default: on a 2-core site controller the default pool keeps a second core spinning. */
  intraOpThreads: number;
}

/**
 * A loaded, checked model and its onnxruntime session. Rejects non-finite inputs before they reach the
 * model, because a NaN that scores as "normal" is the worst failure an anomaly detector can have.
 */
export class ModelSession {
  readonly width: number;

  private constructor(
    readonly info: ModelInfo,
    private readonly session: ort.InferenceSession,
  ) {
    this.width = inputWidth(info.contract.layout);
  }

  static async fromFile(path: string, options: Partial<SessionOptions> = {}): Promise<ModelSession> {
    return ModelSession.create(await inspectModelFile(path), options);
  }

  static async fromBytes(bytes: Uint8Array, options: Partial<SessionOptions> = {}): Promise<ModelSession> {
    return ModelSession.create(inspectModelBytes(bytes), options);
  }

  private static async create(info: ModelInfo, options: Partial<SessionOptions>): Promise<ModelSession> {
    try {
      const session = await ort.InferenceSession.create(info.bytes, {
        intraOpNumThreads: options.intraOpThreads ?? 1,
        interOpNumThreads: 1,
        executionMode: 'sequential',
        graphOptimizationLevel: 'all',
      });
      return new ModelSession(info, session);
    } catch (err) {
      throw new CellwatchError('MODEL_RUNTIME', `onnxruntime cannot load the model: ${(err as Error).message}`, {});
    }
  }

  /** Score a batch of model inputs, row-major [rows × width]. */
  async run(input: Float32Array, rows: number): Promise<ScoredBatch> {
    if (input.length !== rows * this.width) {
      throw new CellwatchError('MODEL_INPUT_WIDTH', `batch has ${input.length} values, expected ${rows * this.width}`);
    }
    const bad = input.findIndex((v) => !Number.isFinite(v));
    if (bad >= 0) {
      throw new CellwatchError('SCORE_NON_FINITE', 'model input holds NaN or Infinity', {
        row: Math.floor(bad / this.width),
        column: bad % this.width,
      });
    }
    const feeds = { [this.info.inputName]: new ort.Tensor('float32', input, [rows, this.width]) };
    let results: ort.InferenceSession.OnnxValueMapType;
    try {
      results = await this.session.run(feeds);
    } catch (err) {
      throw new CellwatchError('MODEL_RUNTIME', `onnxruntime failed to run: ${(err as Error).message}`, {});
    }
    const reconstruction = results[this.info.reconstructionName]?.data;
    if (!(reconstruction instanceof Float32Array) || reconstruction.length !== input.length) {
      throw new CellwatchError('MODEL_OUTPUT', 'reconstruction output has the wrong type or size');
    }
    const scoreData = this.info.scoreName ? results[this.info.scoreName]?.data : undefined;
    const score = scoreData instanceof Float32Array ? scoreData : this.scoreInTs(input, reconstruction, rows);
    const nonFinite = score.findIndex((v) => !Number.isFinite(v));
    if (nonFinite >= 0) {
      throw new CellwatchError('SCORE_NON_FINITE', 'model output holds NaN or Infinity', { row: nonFinite });
    }
    return { reconstruction, score };
  }

  /** Models exported elsewhere may lack the score output; compute it from the contract's weights. */
  private scoreInTs(input: Float32Array, reconstruction: Float32Array, rows: number): Float32Array {
    const weights = this.info.contract.scoring.weights;
    const score = new Float32Array(rows);
    for (let n = 0; n < rows; n++) {
      let sum = 0;
      for (let j = 0; j < this.width; j++) {
        const d = (input[n * this.width + j] as number) - (reconstruction[n * this.width + j] as number);
        sum += (weights[j] as number) * d * d;
      }
      score[n] = sum;
    }
    return score;
  }

  async close(): Promise<void> {
    await this.session.release();
  }
}
