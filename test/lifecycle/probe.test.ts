import { readdirSync, readFileSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { makeBundle } from '../../src/lifecycle/make-bundle.js';
import { probeModel } from '../../src/lifecycle/probe.js';
import { inputWidth } from '../../src/model/contract.js';
import { EXPORT_IR_VERSION, EXPORT_OPSET, encodeModel } from '../../src/model/onnx-export.js';
import { onnx, toNumber } from '../../src/model/onnx-proto.js';
import { Rng } from '../../src/rng.js';
import { contractFor, randomModel, rejection, SMALL_LAYOUT } from '../helpers.js';

const ON_LINUX = process.platform === 'linux';
const WIDTH = inputWidth(SMALL_LAYOUT);
const TIMEOUT_MS = 30_000;

const good = randomModel(SMALL_LAYOUT, 3, contractFor(SMALL_LAYOUT, { modelId: 'cells-ctx', modelVersion: 4 }));

/** The good model, decoded, changed and encoded again. */
function altered(change: (model: InstanceType<typeof onnx.ModelProto>) => void): Uint8Array {
  const model = onnx.ModelProto.decode(good.bytes);
  change(model);
  return encodeModel(model);
}

/** Child processes of this test worker (Linux /proc), with their state and command line. */
function children(): Array<{ pid: number; state: string; cmd: string }> {
  if (!ON_LINUX) return [];
  const found: Array<{ pid: number; state: string; cmd: string }> = [];
  for (const name of readdirSync('/proc').filter((n) => /^\d+$/.test(n))) {
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8');
      // Fields after "(comm)": state, ppid, ...; comm itself may hold spaces and parentheses.
      const [state, ppid] = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (Number(ppid) !== process.pid) continue;
      const cmd = readFileSync(`/proc/${name}/cmdline`, 'utf8').replaceAll('\0', ' ');
      found.push({ pid: Number(name), state: state ?? '?', cmd });
    } catch {
      // The process ended while it was being read.
    }
  }
  return found;
}

const probeChildren = () => children().filter((c) => c.cmd.includes('probe-child') || c.state === 'Z');

afterEach(() => {
  // Every probe settles only once its child is gone: nothing may be left running, or unreaped.
  expect(probeChildren()).toEqual([]);
});

describe('probeModel', () => {
  it('loads and runs a good model in a child process and reports what it found', async () => {
    const result = await probeModel(good.bytes, { expectedWidth: WIDTH, timeoutMs: TIMEOUT_MS });
    expect(result).toMatchObject({
      irVersion: EXPORT_IR_VERSION,
      opset: EXPORT_OPSET,
      width: WIDTH,
      kpis: ['a', 'b', 'c'],
      modelId: 'cells-ctx',
      modelVersion: 4,
      goldenOff: [],
    });
    // A Node process with onnxruntime loaded: tens of MB at least, far from the 512 MB default limit.
    expect(result.rssMb).toBeGreaterThan(20);
    expect(result.rssMb).toBeLessThan(512);
    expect(result.loadMs).toBeGreaterThan(0);
    expect(result.runMs).toBeGreaterThan(0);
  });

  it("passes a bundle's own golden scores and refuses altered ones", async () => {
    const { manifest } = await makeBundle(good.bytes, { pipeline: 'cells', goldenRows: 4 });
    const golden = manifest.golden!;
    const passed = await probeModel(good.bytes, { golden, timeoutMs: TIMEOUT_MS });
    expect(passed.goldenOff).toEqual([]);

    const wrong = { ...golden, scores: golden.scores.map((s, i) => (i === 1 ? s + 0.5 : s)) };
    const error = await rejection(() => probeModel(good.bytes, { golden: wrong, timeoutMs: TIMEOUT_MS }));
    expect(error.code).toBe('BUNDLE_GOLDEN');
    expect(error.message).toMatch(/^1 golden rows are off, first row 1/);
    expect(error.details).toMatchObject({ modelId: 'cells-ctx', modelVersion: 4 });
    const off = error.details.off as Array<{ row: number; expected: number; got: number }>;
    expect(off.map((o) => o.row)).toEqual([1]);
    expect(off[0]!.expected - off[0]!.got).toBeCloseTo(0.5, 3);

    // Golden rows of another width are refused, not run.
    const narrow = { ...golden, inputs: golden.inputs.map((r) => r.slice(1)) };
    const misfit = await rejection(() => probeModel(good.bytes, { golden: narrow, timeoutMs: TIMEOUT_MS }));
    expect(misfit.code).toBe('BUNDLE_GOLDEN');
    expect(misfit.message).toMatch(/do not fit the model/);
  });

  it('refuses a model of another width than the pipeline gives', async () => {
    const error = await rejection(() => probeModel(good.bytes, { expectedWidth: WIDTH + 1, timeoutMs: TIMEOUT_MS }));
    expect(error.code).toBe('MODEL_INPUT_WIDTH');
    expect(error.details).toEqual({ width: WIDTH, expectedWidth: WIDTH + 1 });
  });

  it('refuses bytes that are not an ONNX model with the code the inspection gives', async () => {
    const rng = new Rng(5);
    const noise = Uint8Array.from({ length: 4096 }, () => Math.floor(rng.next() * 256));
    const error = await rejection(() => probeModel(noise, { timeoutMs: TIMEOUT_MS }));
    expect(error.code).toBe('MODEL_READ');
    expect(error.message).toMatch(/not an ONNX model|has no graph/);

    const truncated = await rejection(() => probeModel(good.bytes.subarray(0, 300), { timeoutMs: TIMEOUT_MS }));
    expect(truncated.code).toBe('MODEL_READ');
  });

  it('refuses an IR version onnxruntime does not load', async () => {
    const ir12 = altered((m) => {
      m.irVersion = 12;
    });
    expect(toNumber(onnx.ModelProto.decode(ir12).irVersion)).toBe(12);
    const error = await rejection(() => probeModel(ir12, { timeoutMs: TIMEOUT_MS }));
    expect(error.code).toBe('MODEL_IR_VERSION');
    expect(error.details).toMatchObject({ irVersion: 12, supported: { min: 3, max: 11 } });
  });

  it('reports a model that passes inspection but onnxruntime refuses to load as MODEL_RUNTIME', async () => {
    // The metadata, input and outputs are all in order; only the first node names an operator that does not exist.
    const unknownOp = altered((m) => {
      const node = m.graph?.node?.[0];
      if (!node) throw new Error('the model has no first node');
      node.opType = 'NoSuchOp';
    });
    const error = await rejection(() => probeModel(unknownOp, { timeoutMs: TIMEOUT_MS }));
    expect(error.code).toBe('MODEL_RUNTIME');
    expect(error.message).toMatch(/onnxruntime cannot load the model: .*NoSuchOp/);

    // Weights shorter than their shape: refused by onnxruntime's own checks, also in the child.
    const shortWeights = altered((m) => {
      const w0 = m.graph?.initializer?.[0];
      if (!w0?.rawData) throw new Error('the model has no raw weights');
      w0.rawData = w0.rawData.subarray(0, 8);
    });
    const short = await rejection(() => probeModel(shortWeights, { timeoutMs: TIMEOUT_MS }));
    expect(short.code).toBe('MODEL_RUNTIME');
    expect(short.message).toMatch(/raw_data size/);
  });

  it.runIf(ON_LINUX)('survives a loader that crashes: the child dies by a signal and the probe says so', async () => {
    // onnxruntime 1.30 refused every malformed model tried cleanly, so the crash is the signal a segfault in
    // native code ends the process with, sent to the probe's child while it starts.
    const pending = probeModel(good.bytes, { timeoutMs: TIMEOUT_MS });
    const child = probeChildren();
    expect(child).toHaveLength(1);
    process.kill(child[0]!.pid, 'SIGSEGV');

    const error = await rejection(() => pending);
    expect(error.code).toBe('MODEL_PROBE');
    expect(error.message).toMatch(/the test process ended \(killed by SIGSEGV\) without a reply/);
    expect(error.details).toMatchObject({ reason: 'exit', signal: 'SIGSEGV', exitCode: null });
    expect(typeof error.details.stderr).toBe('string');

    // The parent is unharmed: the next probe works.
    expect((await probeModel(good.bytes, { timeoutMs: TIMEOUT_MS })).modelVersion).toBe(4);
  });

  it('kills a child that does not answer in time', async () => {
    const started = Date.now();
    const error = await rejection(() => probeModel(good.bytes, { timeoutMs: 1 }));
    expect(error.code).toBe('MODEL_PROBE');
    expect(error.details).toEqual({ reason: 'timeout', timeoutMs: 1 });
    // Decided at the deadline, long before the child could have loaded the model.
    expect(Date.now() - started).toBeLessThan(5_000);
  });

  it('kills a child over its memory limit', async () => {
    // 1 MB: V8 aborts the child as its heap limit is hit while it starts.
    const tiny = await rejection(() => probeModel(good.bytes, { maxRssMb: 1, timeoutMs: TIMEOUT_MS }));
    expect(tiny.code).toBe('MODEL_PROBE');
    expect(tiny.details).toMatchObject({ reason: 'memory', maxRssMb: 1 });

    // 64 MB: the child starts, but onnxruntime takes it past the limit (caught by sampling or in the reply).
    const small = await rejection(() => probeModel(good.bytes, { maxRssMb: 64, timeoutMs: TIMEOUT_MS }));
    expect(small.code).toBe('MODEL_PROBE');
    expect(small.details).toMatchObject({ reason: 'memory', maxRssMb: 64 });
  });

  it('refuses invalid options before starting a process', async () => {
    const usage = async (options: Parameters<typeof probeModel>[1]) =>
      (await rejection(() => probeModel(good.bytes, options))).code;
    expect(await usage({ timeoutMs: 0 })).toBe('USAGE');
    expect(await usage({ timeoutMs: Number.NaN })).toBe('USAGE');
    expect(await usage({ timeoutMs: TIMEOUT_MS, maxRssMb: 1.5 })).toBe('USAGE');
    expect(await usage({ timeoutMs: TIMEOUT_MS, expectedWidth: 0 })).toBe('USAGE');
    const golden = { inputs: [], scores: [], tolerance: 1e-3 };
    expect(await usage({ timeoutMs: TIMEOUT_MS, golden })).toBe('BUNDLE_GOLDEN');
  });
});
