import type { Logger } from 'pino';
import { AUTO_MODEL, type PipelineConfig } from '../config/schema.js';
import type { LoadedModel } from '../agent/pipeline.js';
import { loadPipelineModel } from '../agent/scorer.js';
import { sha256Hex } from './bundle.js';
import { readModelFile } from '../model/model-file.js';
import { makeBundle } from './make-bundle.js';
import type { ModelStore } from './model-store.js';

/**
 * The model a pipeline starts with. The store's active model wins: a pushed or locally trained model
 * survives a restart, and a pushed one always takes precedence over the configured file. The configured
 * file is registered in the store (origin config) the first time it is seen, and again when the operator
 * changes it while it is the active one, so a pushed model can be rolled back to it.
 */
export async function initialModel(
  config: PipelineConfig,
  store: ModelStore,
  log: Logger,
  describe: (pipeline: string) => Promise<LoadedModel['active'] | undefined>,
): Promise<LoadedModel | undefined> {
  const file = config.model && config.model !== AUTO_MODEL ? config.model : undefined;
  let stored = await store.active(config.name);
  if (file !== undefined) {
    // An unreadable configured file is the configuration's error: loading it below reports it.
    const bytes = await readModelFile(file).catch(() => undefined);
    const changed =
      stored?.origin === 'config' && bytes !== undefined && sha256Hex(bytes) !== stored.manifest.onnxSha256;
    if (bytes !== undefined && (stored === undefined || changed)) {
      try {
        const { manifest } = await makeBundle(bytes, { pipeline: config.name, goldenRows: 0 });
        await store.put(manifest, bytes, { keyId: null, origin: 'config' });
        await store.activate(config.name, manifest.version);
        stored = await store.active(config.name);
      } catch (err) {
        // Say a pushed v3 is in the store and the configured file is also v3 with other bytes: the file still
        // runs, it only cannot be a rollback target.
        log.warn({ pipeline: config.name, err: (err as Error).message }, 'configured model not registered');
        stored = undefined;
      }
    }
    if (stored === undefined) return fromFile(config, file);
  }
  if (stored === undefined) return undefined;
  try {
    const session = await loadPipelineModel(config, stored.path);
    const active = await describe(config.name);
    if (active) return { session, active };
    await session.close();
  } catch (err) {
    log.error({ pipeline: config.name, path: stored.path, err: (err as Error).message }, 'stored model not loaded');
  }
  return file === undefined ? undefined : fromFile(config, file);
}

async function fromFile(config: PipelineConfig, file: string): Promise<LoadedModel> {
  const session = await loadPipelineModel(config, file);
  const { contract, bytes } = session.info;
  return {
    session,
    active: {
      modelId: contract.modelId,
      version: contract.modelVersion,
      origin: 'config',
      keyId: null,
      sha256: sha256Hex(bytes),
      activatedAt: null,
    },
  };
}
