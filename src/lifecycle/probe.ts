import { fork, type ChildProcess } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { Type, type Static } from '@sinclair/typebox';
import { Ajv } from 'ajv';
import { CellwatchError, ERROR_CODES, type ErrorCode } from '../errors.js';
import { MAX_MODEL_BYTES } from '../model/model-file.js';
import { childLaunch } from './child-launch.js';
import { GoldenSchema, type Golden } from './manifest.js';

/**
 * Load and run a model's ONNX bytes in a separate, short-lived Node process before the agent activates it.
 * onnxruntime is native code: a corrupt or hostile file can crash it, loop in it or make it allocate without
 * end, and in the agent's own process any of those would take the daemon down. In the child they cost one
 * refused model. probe-child.ts is the other side; the messages both sides exchange are defined here.
 *
 * What is bounded: the wall time of the whole probe (timeoutMs, cold start included: the child is killed
 * with SIGKILL, which even a blocked event loop or a loop in native code cannot ignore); the JS heap of the
 * child (--max-old-space-size); and its resident memory, JS and native (onnxruntime's allocations) together,
 * which the parent samples from /proc every RSS_SAMPLE_MS and the child reports as its peak when it replies.
 * What is not: a native allocation that grows past maxRssMb and beyond between two samples is seen only at
 * the next sample (or at the reply), so the box briefly needs that headroom; on systems without /proc (not
 * Linux) only the peak in the reply is checked. CPU is not limited: the child runs onnxruntime with one thread.
 * If the agent itself is killed with SIGKILL mid-probe, a child blocked in native code outlives it until its
 * work ends; a service manager that kills the whole control group (systemd's default) removes it.
 */
export interface ProbeOptions {
  /** The input width the pipeline's features give; a model of another width is refused (MODEL_INPUT_WIDTH). */
  expectedWidth?: number;
  /** A bundle's golden inputs and scores: a row off its score refuses the model (BUNDLE_GOLDEN). */
  golden?: Golden;
  /** For the whole probe, from spawning the child to its reply. */
  timeoutMs: number;
  /** Peak resident memory of the child, JS heap and native memory together. */
  maxRssMb?: number;
}

/** A fresh Node with onnxruntime and a small model peaks near 100 MB; the default leaves room for large models. */
export const DEFAULT_MAX_RSS_MB = 512;
const RSS_SAMPLE_MS = 100;
const STDERR_TAIL_CHARS = 2000;
/** What V8 prints when the heap limit kills a process ("Fatal JavaScript OOM", "JavaScript heap out of memory"). */
const V8_OUT_OF_MEMORY = /fatal javascript oom|javascript heap out of memory/i;

const GoldenOffSchema = Type.Object(
  { row: Type.Integer(), expected: Type.Number(), got: Type.Number() },
  { additionalProperties: false },
);

export const ProbeResultSchema = Type.Object(
  {
    irVersion: Type.Integer(),
    opset: Type.Integer(),
    width: Type.Integer({ minimum: 1 }),
    kpis: Type.Array(Type.String()),
    modelId: Type.String(),
    modelVersion: Type.Integer(),
    /** Golden rows whose score is off; never empty in a rejection, always empty in a resolved probe. */
    goldenOff: Type.Array(GoldenOffSchema),
    /** The child's peak resident memory. */
    rssMb: Type.Number({ minimum: 0 }),
    /** Decoding, checking and loading the model into onnxruntime. */
    loadMs: Type.Number({ minimum: 0 }),
    /** Scoring the probe inputs and the golden check. */
    runMs: Type.Number({ minimum: 0 }),
  },
  { additionalProperties: false },
);

/** The child's one reply: what it measured, or the coded error its checks threw. */
const ProbeReplySchema = Type.Union([
  Type.Object({ type: Type.Literal('result'), result: ProbeResultSchema }, { additionalProperties: false }),
  Type.Object(
    { type: Type.Literal('error'), code: Type.String(), message: Type.String(), details: Type.Object({}) },
    { additionalProperties: false },
  ),
]);

export type ProbeResult = Static<typeof ProbeResultSchema>;
export type ProbeReply = Static<typeof ProbeReplySchema>;

/** The parent's one message. The bytes travel over IPC ('advanced' serialization keeps them binary). */
export interface ProbeRequest {
  onnx: Uint8Array;
  expectedWidth: number | undefined;
  golden: Golden | undefined;
}

const ajv = new Ajv({ allErrors: true, strict: true });
const validateReply = ajv.compile<ProbeReply>(ProbeReplySchema);
const validateGolden = ajv.compile<Golden>(GoldenSchema);

/** Probe a model in a child process: its facts when it loads and scores cleanly, else a coded error. */
export async function probeModel(onnx: Uint8Array, options: ProbeOptions): Promise<ProbeResult> {
  checkOptions(options);
  if (onnx.byteLength > MAX_MODEL_BYTES) {
    throw new CellwatchError('MODEL_READ', `the model is larger than ${MAX_MODEL_BYTES} bytes`, {
      bytes: onnx.byteLength,
    });
  }
  const maxRssMb = options.maxRssMb ?? DEFAULT_MAX_RSS_MB;
  const request: ProbeRequest = { onnx, expectedWidth: options.expectedWidth, golden: options.golden };
  const reply = await runChild(request, options.timeoutMs, maxRssMb);
  return verdict(reply, maxRssMb);
}

function checkOptions(options: ProbeOptions): void {
  const { timeoutMs, maxRssMb, expectedWidth, golden } = options;
  if (!(Number.isFinite(timeoutMs) && timeoutMs > 0)) {
    throw new CellwatchError('USAGE', 'probe timeoutMs must be a positive number', { timeoutMs });
  }
  if (maxRssMb !== undefined && !(Number.isInteger(maxRssMb) && maxRssMb > 0)) {
    throw new CellwatchError('USAGE', 'probe maxRssMb must be a positive integer', { maxRssMb });
  }
  if (expectedWidth !== undefined && !(Number.isInteger(expectedWidth) && expectedWidth > 0)) {
    throw new CellwatchError('USAGE', 'probe expectedWidth must be a positive integer', { expectedWidth });
  }
  if (golden !== undefined && !validateGolden(golden)) {
    throw new CellwatchError('BUNDLE_GOLDEN', 'the golden inputs are not a valid golden set', {});
  }
}

/** Turn the child's reply into the probe's outcome: the policy (golden, memory) is the parent's. */
function verdict(reply: ProbeReply, maxRssMb: number): ProbeResult {
  if (reply.type === 'error') {
    if (!isErrorCode(reply.code)) return probeFailure('garbage', `the test process replied ${reply.code}`, {});
    throw new CellwatchError(reply.code, reply.message, reply.details);
  }
  const { result } = reply;
  if (result.rssMb > maxRssMb) {
    return probeFailure('memory', `the test process peaked at ${Math.round(result.rssMb)} MB, over ${maxRssMb} MB`, {
      rssMb: result.rssMb,
      maxRssMb,
    });
  }
  if (result.goldenOff.length > 0) {
    const first = result.goldenOff[0];
    throw new CellwatchError(
      'BUNDLE_GOLDEN',
      `${result.goldenOff.length} golden rows are off, first row ${first?.row}: ` +
        `expected ${first?.expected}, got ${first?.got}`,
      { off: result.goldenOff, modelId: result.modelId, modelVersion: result.modelVersion },
    );
  }
  return result;
}

function isErrorCode(code: string): code is ErrorCode {
  return Object.hasOwn(ERROR_CODES, code);
}

type FailureReason = 'timeout' | 'memory' | 'exit' | 'garbage' | 'ipc';

function probeFailure(reason: FailureReason, message: string, details: Record<string, unknown>): never {
  throw failure(reason, message, details);
}

function failure(reason: FailureReason, message: string, details: Record<string, unknown>): CellwatchError {
  return new CellwatchError('MODEL_PROBE', `model probe failed: ${message}`, { reason, ...details });
}

/**
 * Start the child, send the request, wait for one reply. Whatever happens first (reply, timeout, memory over
 * the limit, exit, a send error, a reply that is not one) decides; the child is then killed, and the promise
 * settles only once it is gone, so no probe leaves a process behind.
 */
function runChild(request: ProbeRequest, timeoutMs: number, maxRssMb: number): Promise<ProbeReply> {
  const launch = childLaunch(import.meta.url, 'probe-child');
  return new Promise((resolve, reject) => {
    let outcome: { reply: ProbeReply } | { error: CellwatchError } | undefined;
    let stderrTail = '';
    let child: ChildProcess;
    try {
      child = fork(launch.path, [], {
        execArgv: [...launch.execArgv, `--max-old-space-size=${maxRssMb}`],
        serialization: 'advanced',
        stdio: ['ignore', 'ignore', 'pipe', 'ipc'],
      });
    } catch (err) {
      reject(failure('ipc', `cannot start the test process: ${(err as Error).message}`, {}));
      return;
    }

    const decide = (decided: NonNullable<typeof outcome>): void => {
      if (outcome) return;
      outcome = decided;
      clearTimeout(timer);
      clearInterval(sampler);
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    };
    const fail = (reason: FailureReason, message: string, details: Record<string, unknown> = {}): void =>
      decide({ error: failure(reason, message, details) });
    const settle = (): void => {
      const decided = outcome ?? { error: failure('exit', 'the test process ended without a reply', {}) };
      if ('reply' in decided) resolve(decided.reply);
      else reject(decided.error);
    };

    const timer = setTimeout(() => fail('timeout', `no reply within ${timeoutMs} ms`, { timeoutMs }), timeoutMs);
    const sampler = setInterval(() => {
      void residentMb(child.pid).then((rssMb) => {
        if (rssMb !== undefined && rssMb > maxRssMb) {
          fail('memory', `the test process used ${Math.round(rssMb)} MB, over ${maxRssMb} MB`, { rssMb, maxRssMb });
        }
      });
    }, RSS_SAMPLE_MS);

    child.stderr?.on('data', (chunk: Buffer) => {
      stderrTail = (stderrTail + chunk.toString('utf8')).slice(-STDERR_TAIL_CHARS);
    });
    child.on('message', (message: unknown) => {
      if (validateReply(message)) decide({ reply: message });
      else fail('garbage', 'the test process sent a message that is not a probe reply');
    });
    // Spawn failures and send errors (EPIPE when the child is already gone) arrive here, never as a throw.
    child.on('error', (err) => {
      fail('ipc', `the test process failed: ${err.message}`);
      if (child.pid === undefined) settle(); // never started: no 'close' follows
    });
    child.on('close', (exitCode, signal) => {
      const how = signal ? `killed by ${signal}` : `exit code ${exitCode}`;
      const details = { exitCode, signal, stderr: stderrTail };
      // V8 aborts the child when its heap reaches --max-old-space-size: that is the memory limit, not a crash.
      if (V8_OUT_OF_MEMORY.test(stderrTail)) {
        fail('memory', `the test process ran out of its ${maxRssMb} MB heap (${how})`, { ...details, maxRssMb });
      } else {
        fail('exit', `the test process ended (${how}) without a reply`, details);
      }
      settle();
    });

    child.send(request, (err) => {
      if (err) fail('ipc', `cannot send the model to the test process: ${err.message}`);
    });
  });
}

/** Resident memory of a process from /proc (Linux); undefined where there is none or the process is gone. */
async function residentMb(pid: number | undefined): Promise<number | undefined> {
  if (pid === undefined || process.platform !== 'linux') return undefined;
  try {
    const status = await readFile(`/proc/${pid}/status`, 'utf8');
    const kb = /^VmRSS:\s+(\d+)\s+kB/m.exec(status)?.[1];
    return kb === undefined ? undefined : Number(kb) / 1024;
  } catch {
    return undefined;
  }
}
