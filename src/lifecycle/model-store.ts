import { readdir, readFile, rename, rm, stat } from 'node:fs/promises';
import { basename, isAbsolute, join } from 'node:path';
import { Type, type Static } from '@sinclair/typebox';
import { Ajv } from 'ajv';
import { CellwatchError } from '../errors.js';
import { syncFolder, writeAtomic } from '../io/atomic-file.js';
import { ensureFolder, writeFailure } from '../io/output-file.js';
import { sha256Hex } from './bundle.js';
import { checkManifest, type Manifest } from './manifest.js';

/**
 * The models a site has accepted, kept on disk so a restart runs the same model and an operator can roll
 * back. One folder per pipeline:
 *
 *   <dir>/<pipeline>/v<version>-<sha12>.onnx            the ONNX bytes
 *   <dir>/<pipeline>/v<version>-<sha12>.manifest.json   the manifest, plus keyId and acceptedAt
 *   <dir>/<pipeline>/state.json                         active, previous, highestVersion, history
 *
 * Every file is written beside its target as `*.tmp`, fsynced, renamed into place, then the folder is
 * fsynced, so a power cut leaves the old file or the new one, never half of one. The order is the commit
 * protocol: ONNX, then its manifest (a version exists once its manifest does), then state.json (a version
 * is active once state.json says so). A crash at any point leaves the previous active model in force;
 * leftovers (`*.tmp`, an ONNX file without a manifest) are removed the first time a pipeline is used.
 *
 * Damaged files never stop the agent: a state.json or manifest that cannot be parsed is renamed to
 * `<name>.corrupt-<ms>` for inspection and reported once through `onFault` as MODEL_STORE; a pipeline whose
 * state.json was moved aside has no active model until one is activated again.
 */

// Mirrors EntityName in src/config/schema.ts (pipeline names are validated there too); '.' and '..' match
// that pattern but would name another folder, so they are refused here.
const PIPELINE_NAME = /^[A-Za-z0-9_.:-]{1,64}$/;
const MODEL_FILE = /^v\d+-[0-9a-f]{12}\.onnx$/;
const MANIFEST_FILE = /^v\d+-[0-9a-f]{12}\.manifest\.json$/;
const STATE_FILE = 'state.json';
/** Bound on history and previous: state.json stays small however long a site runs. */
const HISTORY_LIMIT = 50;

const StateSchema = Type.Object(
  {
    active: Type.Union([
      Type.Object(
        { version: Type.Integer({ minimum: 1 }), file: Type.String({ pattern: MODEL_FILE.source }) },
        { additionalProperties: false },
      ),
      Type.Null(),
    ]),
    /** Versions a rollback returns to, the next one first. */
    previous: Type.Array(Type.Integer({ minimum: 1 }), { maxItems: HISTORY_LIMIT }),
    /** The highest version ever stored or activated, so a replayed older bundle is refused after pruning. */
    highestVersion: Type.Integer({ minimum: 0 }),
    history: Type.Array(
      Type.Object(
        {
          version: Type.Integer({ minimum: 1 }),
          action: Type.Union([Type.Literal('activated'), Type.Literal('rolled_back')]),
          at: Type.String(),
        },
        { additionalProperties: false },
      ),
      { maxItems: HISTORY_LIMIT },
    ),
  },
  { additionalProperties: false },
);

export type StoreState = Static<typeof StateSchema>;
export type HistoryAction = StoreState['history'][number]['action'];

const validateState = new Ajv({ allErrors: true, strict: true }).compile<StoreState>(StateSchema);

/** Where a stored model came from: the configured file, a pushed bundle, or training on the box. */
export type ModelOrigin = 'config' | 'push' | 'local';
const ORIGINS: readonly string[] = ['config', 'push', 'local'] satisfies ModelOrigin[];

export interface PutOptions {
  /** The key that signed the bundle, or null for an unsigned one. */
  keyId: string | null;
  origin: ModelOrigin;
}

/** A version on disk. Paths are absolute. */
export interface StoredModel extends PutOptions {
  manifest: Manifest;
  acceptedAt: string;
  onnxPath: string;
  manifestPath: string;
}

export interface ActiveModel extends PutOptions {
  manifest: Manifest;
  path: string;
}

export class ModelStore {
  private readonly prepared = new Set<string>();
  private readonly queues = new Map<string, Promise<unknown>>();

  /**
   * @param dir absolute path of the models folder; created on the first put.
   * @param keepVersions versions per pipeline kept on disk, at least 2; the active version and the one a
   *   rollback returns to are kept beyond that.
   * @param onFault told of damaged files the store worked around (the agent logs and counts them).
   */
  constructor(
    private readonly dir: string,
    private readonly keepVersions: number,
    private readonly onFault: (err: CellwatchError) => void = () => undefined,
  ) {
    if (!isAbsolute(dir)) {
      throw new CellwatchError('CONFIG_INVALID', `the models folder must be an absolute path, not ${dir}`, { dir });
    }
    if (!Number.isInteger(keepVersions) || keepVersions < 2) {
      throw new CellwatchError('CONFIG_INVALID', `keepVersions must be an integer of at least 2, not ${keepVersions}`, {
        keepVersions,
      });
    }
  }

  /**
   * Store a version's files, checked against its manifest. Storing the same version with the same bytes again
   * returns the stored entry unchanged; other bytes under a stored version are refused.
   */
  async put(manifest: Manifest, onnxBytes: Uint8Array, options: PutOptions): Promise<StoredModel> {
    const checked = checkManifest(manifest);
    const { pipeline, version } = checked;
    // A size mismatch changes the hash too, so this one check covers both.
    const sha = sha256Hex(onnxBytes);
    if (sha !== checked.onnxSha256) {
      throw new CellwatchError('BUNDLE_HASH', 'the ONNX bytes do not match the SHA-256 in the manifest', {
        pipeline,
        version,
        sha256: sha,
        expected: checked.onnxSha256,
      });
    }

    return this.run(pipeline, true, async (folder) => {
      const existing = (await this.stored(folder, pipeline)).find((e) => e.manifest.version === version);
      if (existing?.manifest.onnxSha256 === sha) return existing;
      if (existing) {
        const details = { version, sha256: sha, stored: existing.manifest.onnxSha256 };
        throw storeError(pipeline, `already holds other bytes as version ${version}`, details);
      }

      const entry = entryFor(folder, checked, options, new Date().toISOString());
      await writeAtomic(entry.onnxPath, onnxBytes);
      const record = { ...checked, keyId: entry.keyId, origin: entry.origin, acceptedAt: entry.acceptedAt };
      await writeAtomic(entry.manifestPath, `${JSON.stringify(record, null, 2)}\n`);
      const state = await this.loadState(folder, pipeline);
      if (version > state.highestVersion) await saveState(folder, { ...state, highestVersion: version });
      return entry;
    });
  }

  /** Make a stored version active; the one it replaces becomes the rollback target. Then prune old versions. */
  async activate(pipeline: string, version: number): Promise<StoredModel> {
    return this.run(pipeline, false, async (folder) => {
      const stored = await this.stored(folder, pipeline);
      const entry = stored.find((e) => e.manifest.version === version);
      if (!entry) throw storeError(pipeline, `holds no version ${version} to activate`, { version });
      const state = await this.loadState(folder, pipeline);
      if (state.active?.version === version) return entry;

      const replaced = state.active ? [state.active.version] : [];
      // The rollback chain: what the active version replaced, then what that replaced... as far as versions
      // are kept. Only versions on disk are on it, so model/state never offers a target that is gone.
      const onDisk = new Set(stored.map((e) => e.manifest.version));
      const chain = [...replaced, ...state.previous].filter((v) => v !== version && onDisk.has(v));
      const next: StoreState = {
        active: { version, file: basename(entry.onnxPath) },
        previous: [...new Set(chain)].slice(0, this.keepVersions - 1),
        highestVersion: Math.max(state.highestVersion, version, stored[0]?.manifest.version ?? 0),
        history: withEntry(state.history, version, 'activated'),
      };
      await saveState(folder, next);
      await this.prune(folder, stored, next);
      return entry;
    });
  }

  /**
   * Return to the version the active one replaced. The version rolled back from is not put on `previous`,
   * so a second rollback goes further back instead of forward to the model just abandoned.
   */
  async rollback(pipeline: string): Promise<{ from: number; to: number }> {
    return this.run(pipeline, false, async (folder) => {
      const state = await this.loadState(folder, pipeline);
      const to = state.previous[0];
      if (state.active === null || to === undefined) {
        throw storeError(pipeline, 'has no earlier model to roll back to', { active: state.active?.version ?? null });
      }
      const entry = (await this.stored(folder, pipeline)).find((e) => e.manifest.version === to);
      if (!entry) throw storeError(pipeline, `no longer holds version ${to} to roll back to`, { version: to });

      await saveState(folder, {
        ...state,
        active: { version: to, file: basename(entry.onnxPath) },
        previous: state.previous.slice(1),
        history: withEntry(state.history, to, 'rolled_back'),
      });
      return { from: state.active.version, to };
    });
  }

  /**
   * The active model, or undefined when there is none or its files are damaged (reported through onFault).
   * The ONNX bytes are hashed again: flash storage does rot, and a changed file must not run as the model
   * that was signed.
   */
  async active(pipeline: string): Promise<ActiveModel | undefined> {
    return this.run(pipeline, false, async (folder) => {
      const { active } = await this.loadState(folder, pipeline);
      if (!active) return undefined;
      const entry = (await this.stored(folder, pipeline)).find((e) => e.manifest.version === active.version);
      if (!entry || basename(entry.onnxPath) !== active.file) {
        this.onFault(storeError(pipeline, `no longer holds its active version ${active.version}`, active));
        return undefined;
      }
      const bytes = await readFile(entry.onnxPath).catch((err: unknown) => {
        throw storeError(pipeline, `cannot read ${entry.onnxPath}: ${(err as Error).message}`, active);
      });
      const sha = sha256Hex(bytes);
      if (sha !== entry.manifest.onnxSha256) {
        const details = { ...active, sha256: sha, expected: entry.manifest.onnxSha256 };
        this.onFault(storeError(pipeline, 'the active ONNX file no longer matches its manifest', details));
        return undefined;
      }
      return { manifest: entry.manifest, path: entry.onnxPath, keyId: entry.keyId, origin: entry.origin };
    });
  }

  /** The pipeline's state.json as it is (an empty state when there is none). */
  async state(pipeline: string): Promise<StoreState> {
    return this.run(pipeline, false, (folder) => this.loadState(folder, pipeline));
  }

  /** The versions on disk, newest first. */
  async versions(pipeline: string): Promise<StoredModel[]> {
    return this.run(pipeline, false, (folder) => this.stored(folder, pipeline));
  }

  /** The highest version ever stored or activated; 0 when there has been none. */
  async highestVersion(pipeline: string): Promise<number> {
    return this.run(pipeline, false, async (folder) => {
      // The newest version on disk counts too: it survives a lost state.json, and pruning never removes it.
      const state = await this.loadState(folder, pipeline);
      const stored = await this.stored(folder, pipeline);
      return Math.max(state.highestVersion, stored[0]?.manifest.version ?? 0);
    });
  }

  /**
   * Run one operation on a pipeline's folder. Operations on one pipeline run one at a time, since each reads
   * state.json, changes it and writes it back. The name must be a folder name, never a path.
   */
  private run<T>(pipeline: string, create: boolean, task: (folder: string) => Promise<T>): Promise<T> {
    if (!PIPELINE_NAME.test(pipeline) || pipeline === '.' || pipeline === '..') {
      const message = 'is not a valid pipeline name (letters, digits, _ . : -; not . or ..)';
      return Promise.reject(storeError(pipeline, message, {}));
    }
    const folder = join(this.dir, pipeline);
    const step = async () => {
      if (create) await ensureFolder(folder);
      await this.prepare(folder);
      return task(folder);
    };
    const result = (this.queues.get(pipeline) ?? Promise.resolve()).then(step);
    this.queues.set(
      pipeline,
      result.catch(() => undefined),
    );
    return result;
  }

  /** On first use of a folder, remove what a crash mid-write left: temporary files and manifest-less ONNX. */
  private async prepare(folder: string): Promise<void> {
    if (this.prepared.has(folder)) return;
    const names = await listFolder(folder);
    const withManifest = new Set(names.filter((n) => MANIFEST_FILE.test(n)).map((n) => n.split('.')[0]));
    const leftovers = names.filter(
      (n) => n.endsWith('.tmp') || (MODEL_FILE.test(n) && !withManifest.has(n.split('.')[0])),
    );
    for (const name of leftovers) {
      await rm(join(folder, name), { force: true }).catch((err: unknown) => {
        throw writeFailure(join(folder, name), err);
      });
    }
    this.prepared.add(folder);
  }

  /** Every complete version on disk, newest first; a manifest that cannot be used is moved aside. */
  private async stored(folder: string, pipeline: string): Promise<StoredModel[]> {
    const entries: StoredModel[] = [];
    for (const name of (await listFolder(folder)).filter((n) => MANIFEST_FILE.test(n))) {
      const entry = await readEntry(folder, pipeline, name);
      if (typeof entry === 'string') await this.moveAside(pipeline, join(folder, name), entry);
      else entries.push(entry);
    }
    return entries.sort((a, b) => b.manifest.version - a.manifest.version);
  }

  private async loadState(folder: string, pipeline: string): Promise<StoreState> {
    const path = join(folder, STATE_FILE);
    let data: unknown;
    try {
      data = JSON.parse(await readFile(path, 'utf8'));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return emptyState();
      if (!(err instanceof SyntaxError)) {
        throw storeError(pipeline, `cannot read ${path}: ${(err as Error).message}`, { path });
      }
      data = err;
    }

    if (validateState(data)) return data;
    const problem = data instanceof Error ? data.message : 'not {active, previous, highestVersion, history}';
    await this.moveAside(pipeline, path, problem);
    return emptyState();
  }

  /**
   * Bring the folder down to keepVersions, oldest first, among versions older than the active one that are
   * not on its rollback chain (abandoned by a rollback, or stored and never activated). The active version,
   * its chain and newer versions (a push on its way to activation) stay. highestVersion remembers every
   * version, so none that is deleted can be replayed.
   */
  private async prune(folder: string, stored: StoredModel[], state: StoreState): Promise<void> {
    const activeVersion = state.active?.version ?? Number.POSITIVE_INFINITY;
    const kept = new Set([state.active?.version, ...state.previous]);
    const candidates = stored
      .filter((e) => e.manifest.version < activeVersion && !kept.has(e.manifest.version))
      .sort((a, b) => a.manifest.version - b.manifest.version);
    const doomed = candidates.slice(0, Math.max(0, stored.length - this.keepVersions));
    try {
      // The manifest goes first: a crash in between leaves an ONNX orphan, which prepare() removes.
      for (const entry of doomed) {
        await rm(entry.manifestPath, { force: true });
        await rm(entry.onnxPath, { force: true });
      }
      if (doomed.length > 0) await syncFolder(folder);
    } catch (err) {
      // The activation is already committed; what is left behind is pruned next time.
      this.onFault(writeFailure(folder, err));
    }
  }

  private async moveAside(pipeline: string, path: string, problem: string): Promise<void> {
    const movedTo = `${path}.corrupt-${Date.now()}`;
    await rename(path, movedTo).catch((err: unknown) => {
      throw writeFailure(path, err);
    });
    const message = `cannot use ${basename(path)} (${problem}): moved aside`;
    this.onFault(storeError(pipeline, message, { path, movedTo, problem }));
  }
}

function entryFor(folder: string, manifest: Manifest, options: PutOptions, acceptedAt: string): StoredModel {
  const base = join(folder, `v${manifest.version}-${manifest.onnxSha256.slice(0, 12)}`);
  const { keyId, origin } = options;
  return { manifest, keyId, origin, acceptedAt, onnxPath: `${base}.onnx`, manifestPath: `${base}.manifest.json` };
}

/** One manifest file as a stored version, or what is wrong with it. */
async function readEntry(folder: string, pipeline: string, name: string): Promise<StoredModel | string> {
  const path = join(folder, name);
  const text = await readFile(path, 'utf8').catch((err: unknown) => {
    throw storeError(pipeline, `cannot read ${path}: ${(err as Error).message}`, { path });
  });
  let entry: StoredModel;
  try {
    const data = JSON.parse(text) as Record<string, unknown>;
    const { keyId, origin, acceptedAt, ...manifest } = data;
    if ((keyId !== null && typeof keyId !== 'string') || typeof acceptedAt !== 'string') {
      return 'keyId or acceptedAt is missing';
    }
    if (typeof origin !== 'string' || !ORIGINS.includes(origin)) return 'origin is missing';
    entry = entryFor(folder, checkManifest(manifest), { keyId, origin: origin as ModelOrigin }, acceptedAt);
  } catch (err) {
    return (err as Error).message;
  }

  if (entry.manifest.pipeline !== pipeline || basename(entry.manifestPath) !== name) {
    return 'its name does not match its manifest';
  }
  const onnx = await stat(entry.onnxPath).catch(() => undefined);
  return onnx?.size === entry.manifest.onnxBytes ? entry : 'its ONNX file is missing or of the wrong size';
}

function emptyState(): StoreState {
  return { active: null, previous: [], highestVersion: 0, history: [] };
}

async function saveState(folder: string, state: StoreState): Promise<void> {
  await writeAtomic(join(folder, STATE_FILE), `${JSON.stringify(state, null, 2)}\n`);
}

function storeError(pipeline: string, message: string, details: Record<string, unknown>): CellwatchError {
  return new CellwatchError('MODEL_STORE', `model store, pipeline ${pipeline}: ${message}`, { pipeline, ...details });
}

function withEntry(history: StoreState['history'], version: number, action: HistoryAction): StoreState['history'] {
  return [...history, { version, action, at: new Date().toISOString() }].slice(-HISTORY_LIMIT);
}

async function listFolder(folder: string): Promise<string[]> {
  try {
    return await readdir(folder);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw new CellwatchError('MODEL_STORE', `cannot read ${folder}: ${(err as Error).message}`, { path: folder });
  }
}
