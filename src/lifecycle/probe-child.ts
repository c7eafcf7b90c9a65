import { CellwatchError } from '../errors.js';
import { ModelSession } from '../model/session.js';
import { Rng } from '../rng.js';
import { serveOneRequest } from './child-launch.js';
import { checkGolden } from './make-bundle.js';
import type { ProbeReply, ProbeRequest } from './probe.js';

/**
 * The other side of probe.ts: a short-lived process that decodes, loads and runs one model, replies once
 * and exits. Whatever the model does to onnxruntime (a crash, a loop, an allocation without end) happens
 * here, where the parent can kill it, never in the agent.
 */

/** Rows of seeded z-scores every probe runs: enough to exercise batching, small enough to be quick. */
const PROBE_ROWS = 16;
const PROBE_SEED = 7;

async function probe(request: ProbeRequest): Promise<ProbeReply> {
  const loadStart = performance.now();
  const session = await ModelSession.fromBytes(request.onnx);
  const loadMs = performance.now() - loadStart;
  try {
    const { contract, irVersion, opset } = session.info;
    if (request.expectedWidth !== undefined && session.width !== request.expectedWidth) {
      throw new CellwatchError(
        'MODEL_INPUT_WIDTH',
        `the model takes ${session.width} inputs, the pipeline gives ${request.expectedWidth}`,
        { width: session.width, expectedWidth: request.expectedWidth },
      );
    }
    const runStart = performance.now();
    const rng = new Rng(PROBE_SEED);
    const input = new Float32Array(PROBE_ROWS * session.width);
    for (let i = 0; i < input.length; i++) input[i] = rng.normal(0, 1);
    await session.run(input, PROBE_ROWS);
    await session.run(input.subarray(0, session.width), 1);
    const goldenOff = request.golden ? await checkGolden(session, request.golden) : [];
    const runMs = performance.now() - runStart;
    return {
      type: 'result',
      result: {
        irVersion,
        opset,
        width: session.width,
        kpis: [...contract.layout.kpis],
        modelId: contract.modelId,
        modelVersion: contract.modelVersion,
        goldenOff,
        rssMb: process.resourceUsage().maxRSS / 1024,
        loadMs,
        runMs,
      },
    };
  } finally {
    await session.close();
  }
}

serveOneRequest(probe, 'MODEL_RUNTIME');
