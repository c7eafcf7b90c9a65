import { copyFile, mkdir, mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { pino } from 'pino';
import { AUTO_MODEL, type Config, type PipelineConfig } from '../config/schema.js';
import { CellwatchError, isCellwatchError } from '../errors.js';
import { initialModel } from '../lifecycle/initial-model.js';
import { ModelStore } from '../lifecycle/model-store.js';
import { folderAccess } from './disk-check.js';
import { failure, result, worse, type CheckResult, type CheckStatus } from './report.js';

/**
 * The model each pipeline would run if the agent started now, loaded in onnxruntime and run on one row.
 *
 * The agent's own choice is reused (initialModel: the store's active model, else the configured file, else
 * none), but on a scratch copy of the model store: the store tidies as it reads (removes leftovers of an
 * interrupted write, moves damaged files aside) and initialModel registers the configured file in it, and
 * doctor must leave the install as it found it. What the store would have tidied is reported as a warning.
 */

interface PipelineModel {
  pipeline: string;
  status: CheckStatus;
  detail: string;
  code?: string;
  modelId?: string;
  version?: number;
  origin?: string;
  /** The file the agent would load: in the models folder, or the configured one. */
  path?: string;
  loadMs?: number;
  runMs?: number;
}

const ORIGIN_WORDS: Record<string, string> = { config: 'configured file', push: 'pushed', local: 'trained on the box' };

export async function checkModels(config: Readonly<Config>): Promise<CheckResult> {
  const dir = config.models.dir as string;
  let scratch: string | undefined;
  try {
    const folder = await folderAccess(dir);
    scratch = await mkdtemp(join(tmpdir(), 'cellwatch-doctor-'));
    const pipelines: PipelineModel[] = [];
    for (const pipeline of config.pipelines) {
      pipelines.push(await checkPipeline(config, pipeline, dir, scratch));
    }
    let status = pipelines.reduce<CheckStatus>((worst, p) => worse(worst, p.status), 'ok');
    const details = pipelines.map((p) => `${p.pipeline}: ${p.detail}`);
    let code = pipelines.find((p) => p.status === status)?.code;
    if (!folder.writable) {
      // Pushed and trained models are stored there: the agent would refuse every one.
      status = 'fail';
      code = 'OUTPUT_WRITE';
      details.push(`models folder: ${folder.reason ?? `${dir} is not writable`}`);
    }
    const figures = { dir, dirWritable: folder.writable, pipelines, ...(code === undefined ? {} : { code }) };
    return result('models', status, details.join('; '), figures);
  } catch (err) {
    return failure('models', err, { dir });
  } finally {
    if (scratch !== undefined) await rm(scratch, { recursive: true, force: true });
  }
}

async function checkPipeline(
  config: Readonly<Config>,
  pipeline: PipelineConfig,
  dir: string,
  scratch: string,
): Promise<PipelineModel> {
  const name = pipeline.name;
  const notes: string[] = [];
  // Messages the agent would log while choosing (a stored model that does not load, a file not registered).
  const log = pino({ level: 'warn', base: null }, { write: (line: string) => notes.push(logMessage(line)) });
  // The store's faults happen on the copy; the agent meets the same ones in the real folder at start.
  const store = new ModelStore(scratch, config.models.keepVersions, (err) =>
    notes.push(err.message.replace(/: moved aside$/, ': the agent will move it aside')),
  );
  try {
    await copyPipelineFolder(dir, scratch, name);
    const stored = await store.active(name);
    const started = performance.now();
    const loaded = await initialModel(pipeline, store, log, async (n) => {
      const active = await store.active(n);
      if (!active) return undefined;
      const { modelId, version, onnxSha256: sha256 } = active.manifest;
      return { modelId, version, origin: active.origin, keyId: active.keyId, sha256, activatedAt: null };
    });
    const loadMs = Math.round(performance.now() - started);
    const warned = notes.length > 0 ? `; ${notes.join('; ')}` : '';
    const status: CheckStatus = notes.length > 0 ? 'warn' : 'ok';
    const code = notes.length > 0 ? { code: 'MODEL_STORE' } : {};
    if (!loaded) {
      const missing =
        pipeline.model === AUTO_MODEL
          ? `model auto, not trained yet (trains after ${pipeline.training.baselineHours} h of rows)`
          : 'no model: rows are recorded, not scored, until a model is pushed';
      return { pipeline: name, status: 'warn', detail: `${missing}${warned}`, ...code };
    }
    const { session, active } = loaded;
    try {
      const runStarted = performance.now();
      await session.run(new Float32Array(session.width), 1);
      const runMs = Math.round(performance.now() - runStarted);
      const fromStore = stored !== undefined && stored.manifest.version === active.version;
      const path = fromStore ? join(dir, name, basename(stored.path)) : pipeline.model;
      const label = `${active.modelId}@${active.version}`;
      const origin = ORIGIN_WORDS[active.origin] ?? active.origin;
      const detail = `${label} (${origin}${fromStore ? ', from the store' : ''}), loaded in ${loadMs} ms${warned}`;
      const model = { modelId: active.modelId, version: active.version, origin: active.origin, path };
      return { pipeline: name, status, detail, ...code, ...model, loadMs, runMs };
    } finally {
      await session.close();
    }
  } catch (err) {
    const code = isCellwatchError(err) ? err.code : 'MODEL_RUNTIME';
    return { pipeline: name, status: 'fail', detail: (err as Error).message, code };
  }
}

/**
 * Copy one pipeline's store folder (flat: ONNX files, manifests, state.json) into the scratch store. A
 * folder that does not exist yet copies as nothing: the agent starts from the configured file then.
 */
async function copyPipelineFolder(dir: string, scratch: string, pipeline: string): Promise<void> {
  // '.' and '..' pass the config's name pattern; the store refuses them by name, so nothing is copied.
  if (pipeline === '.' || pipeline === '..') return;
  const from = join(dir, pipeline);
  const to = join(scratch, pipeline);
  try {
    const entries = await readdir(from, { withFileTypes: true }).catch((err: NodeJS.ErrnoException) => {
      if (err.code === 'ENOENT') return [];
      throw err;
    });
    await mkdir(to, { recursive: true });
    for (const entry of entries) {
      if (entry.isFile()) await copyFile(join(from, entry.name), join(to, entry.name));
    }
  } catch (err) {
    const message = `model store, pipeline ${pipeline}: cannot read ${from}: ${(err as Error).message}`;
    throw new CellwatchError('MODEL_STORE', message, { pipeline, path: from });
  }
}

/** The message and error of one pino line, for the report. */
function logMessage(line: string): string {
  const parsed = JSON.parse(line) as { msg?: string; err?: string };
  return [parsed.msg, parsed.err].filter((part) => part !== undefined).join(': ');
}
