import { existsSync } from 'node:fs';
import { readdir, readFile, writeFile } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { CellwatchError } from '../../src/errors.js';
import { makeBundle } from '../../src/lifecycle/make-bundle.js';
import type { Manifest } from '../../src/lifecycle/manifest.js';
import { ModelStore } from '../../src/lifecycle/model-store.js';
import { contractFor, randomModel, rejection, scratchDir, SMALL_LAYOUT, thrown } from '../helpers.js';

interface Version {
  manifest: Manifest;
  onnx: Uint8Array;
}

/** A real model of the given version for pipeline `cells`, with its (unsigned) bundle manifest. */
async function version(modelVersion: number, seed = modelVersion, pipeline = 'cells'): Promise<Version> {
  const contract = contractFor(SMALL_LAYOUT, { modelId: 'cells-ctx', modelVersion });
  const { bytes } = randomModel(SMALL_LAYOUT, seed, contract);
  const { manifest } = await makeBundle(bytes, { pipeline, goldenRows: 0 });
  return { manifest, onnx: bytes };
}

const PUSHED = { keyId: 'fleet-2026', origin: 'push' } as const;

let dir: string;
let cleanup: () => Promise<void>;
let faults: CellwatchError[];

beforeEach(async () => {
  ({ dir, cleanup } = await scratchDir());
  faults = [];
});
afterEach(() => cleanup());

function openStore(keepVersions = 5): ModelStore {
  return new ModelStore(join(dir, 'models'), keepVersions, (err) => faults.push(err));
}

/** Store and activate each version in turn. */
async function activateAll(store: ModelStore, versions: readonly Version[]): Promise<void> {
  for (const v of versions) {
    await store.put(v.manifest, v.onnx, PUSHED);
    await store.activate('cells', v.manifest.version);
  }
}

const folder = () => join(dir, 'models', 'cells');
const files = async () => (await readdir(folder())).sort();

describe('ModelStore', () => {
  it('stores a version, activates it and hands it back with where it came from, also after a restart', async () => {
    const store = openStore();
    const v1 = await version(1);
    expect(await store.active('cells')).toBeUndefined();

    const stored = await store.put(v1.manifest, v1.onnx, { keyId: null, origin: 'local' });
    const base = `v1-${v1.manifest.onnxSha256.slice(0, 12)}`;
    expect(stored.onnxPath).toBe(join(folder(), `${base}.onnx`));
    expect(stored.manifestPath).toBe(join(folder(), `${base}.manifest.json`));
    expect(Buffer.compare(await readFile(stored.onnxPath), Buffer.from(v1.onnx))).toBe(0);
    // Stored is not active yet; the version counts as seen.
    expect(await store.active('cells')).toBeUndefined();
    expect(await store.highestVersion('cells')).toBe(1);

    await store.activate('cells', 1);
    const active = await store.active('cells');
    expect(active).toEqual({ manifest: v1.manifest, path: stored.onnxPath, keyId: null, origin: 'local' });
    const state = await store.state('cells');
    expect(state).toMatchObject({ active: { version: 1, file: `${base}.onnx` }, previous: [], highestVersion: 1 });
    expect(state.history.map((h) => [h.version, h.action])).toEqual([[1, 'activated']]);

    // A new store on the same folder (an agent restart) runs the same model.
    const restarted = openStore();
    expect(await restarted.active('cells')).toEqual(active);
    expect((await restarted.versions('cells')).map((v) => [v.manifest.version, v.keyId, v.origin])).toEqual([
      [1, null, 'local'],
    ]);
    expect(faults).toEqual([]);
  });

  it('puts the replaced version on previous, and each rollback goes further back until there is none', async () => {
    const store = openStore();
    const [v1, v2, v3] = await Promise.all([version(1), version(2), version(3)]);
    await activateAll(store, [v1, v2]);
    expect((await store.state('cells')).previous).toEqual([1]);
    expect((await store.active('cells'))?.manifest.version).toBe(2);

    await store.put(v3.manifest, v3.onnx, { keyId: 'fleet-2027', origin: 'push' });
    await store.activate('cells', 3);
    expect((await store.state('cells')).previous).toEqual([2, 1]);
    // Activating the active version again changes nothing.
    await store.activate('cells', 3);
    expect((await store.state('cells')).previous).toEqual([2, 1]);
    expect((await store.active('cells'))?.keyId).toBe('fleet-2027');

    expect(await store.rollback('cells')).toEqual({ from: 3, to: 2 });
    expect(await store.active('cells')).toMatchObject({ manifest: { version: 2 }, keyId: 'fleet-2026' });
    // Version 3 is not put back on previous: the second rollback goes to 1, not forward to 3.
    expect(await store.rollback('cells')).toEqual({ from: 2, to: 1 });
    expect((await store.active('cells'))?.manifest.version).toBe(1);

    const none = await rejection(() => store.rollback('cells'));
    expect(none.code).toBe('MODEL_STORE');
    expect(none.details).toMatchObject({ pipeline: 'cells', active: 1 });
    expect((await store.active('cells'))?.manifest.version).toBe(1);

    // An abandoned version can be activated again; a version never stored cannot.
    await store.activate('cells', 3);
    expect((await store.state('cells')).previous).toEqual([1]);
    const missing = await rejection(() => store.activate('cells', 9));
    expect(missing).toMatchObject({ code: 'MODEL_STORE', details: { version: 9 } });

    const history = (await store.state('cells')).history.map((h) => `${h.action}:${h.version}`);
    expect(history).toEqual([
      'activated:1',
      'activated:2',
      'activated:3',
      'rolled_back:2',
      'rolled_back:1',
      'activated:3',
    ]);
  });

  it('refuses a rollback with nothing active', async () => {
    const store = openStore();
    const v1 = await version(1);
    await store.put(v1.manifest, v1.onnx, PUSHED);
    expect(await rejection(() => store.rollback('cells'))).toMatchObject({
      code: 'MODEL_STORE',
      details: { active: null },
    });
  });

  it('keeps the active version and its rollback chain, keepVersions in all, and nothing else', async () => {
    const store = openStore(3);
    const versions = await Promise.all([1, 2, 3, 4, 5].map((v) => version(v)));
    await activateAll(store, versions.slice(0, 2));
    // Storing alone prunes nothing.
    for (const v of versions.slice(2, 4)) await store.put(v.manifest, v.onnx, PUSHED);
    expect((await store.versions('cells')).map((v) => v.manifest.version)).toEqual([4, 3, 2, 1]);

    await store.activate('cells', 3);
    // 3 active, rollback chain 2 then 1; 4, newer and never activated (a push on its way), stays for now.
    expect((await store.state('cells')).previous).toEqual([2, 1]);
    expect((await store.versions('cells')).map((v) => v.manifest.version)).toEqual([4, 3, 2, 1]);

    // Activating 5 leaves room for two targets: 1 leaves the chain, and 1 and 4 (never active) go, both files.
    await activateAll(store, [versions[4]!]);
    expect((await store.state('cells')).previous).toEqual([3, 2]);
    expect((await store.versions('cells')).map((v) => v.manifest.version)).toEqual([5, 3, 2]);
    const names = await files();
    expect(names.filter((n) => n.startsWith('v4-') || n.startsWith('v1-'))).toEqual([]);
    expect(names.filter((n) => n.endsWith('.onnx'))).toHaveLength(3);
    expect(names.filter((n) => n.endsWith('.manifest.json'))).toHaveLength(3);
    expect(await store.rollback('cells')).toEqual({ from: 5, to: 3 });
    expect(await store.rollback('cells')).toEqual({ from: 3, to: 2 });
    const none = await rejection(() => store.rollback('cells'));
    expect(none).toMatchObject({ code: 'MODEL_STORE', details: { active: 2 } });
    expect(none.message).toMatch(/no earlier model/);
    expect(await store.highestVersion('cells')).toBe(5);
    expect(faults).toEqual([]);
  });

  it('keeps the highest version it has seen when versions are pruned or lost', async () => {
    const store = openStore(2);
    const versions = await Promise.all([1, 2, 3, 4].map((v) => version(v)));
    await activateAll(store, versions);
    expect((await store.versions('cells')).map((v) => v.manifest.version)).toEqual([4, 3]);
    expect(await store.rollback('cells')).toEqual({ from: 4, to: 3 });
    expect(await store.highestVersion('cells')).toBe(4);

    // Even with version 4's manifest unusable (moved aside), state.json remembers it: a replay stays refusable.
    const restarted = openStore(2);
    await writeFile(join(folder(), `v4-${versions[3]!.manifest.onnxSha256.slice(0, 12)}.manifest.json`), '{');
    expect(await restarted.highestVersion('cells')).toBe(4);
    expect((await restarted.versions('cells')).map((v) => v.manifest.version)).toEqual([3]);
    expect(faults.map((f) => f.code)).toEqual(['MODEL_STORE']);
    expect(await restarted.highestVersion('other')).toBe(0);
  });

  it('runs the operations on one pipeline one at a time', async () => {
    const store = openStore();
    const versions = await Promise.all([1, 2, 3, 4].map((v) => version(v)));
    await Promise.all(versions.map((v) => store.put(v.manifest, v.onnx, PUSHED)));
    expect((await store.state('cells')).highestVersion).toBe(4);
    await Promise.all([store.activate('cells', 3), store.activate('cells', 4), store.activate('cells', 2)]);
    // Each activation read the state the previous one wrote: none of them was lost.
    expect(await store.state('cells')).toMatchObject({ active: { version: 2 }, previous: [4, 3] });
  });

  it('refuses bytes that do not match the manifest without writing anything', async () => {
    const store = openStore();
    const [v1, other] = await Promise.all([version(1), version(1, 99)]);
    const error = await rejection(() => store.put(v1.manifest, other.onnx, PUSHED));
    expect(error.code).toBe('BUNDLE_HASH');
    expect(error.details).toMatchObject({ version: 1, expected: v1.manifest.onnxSha256 });
    expect(existsSync(folder())).toBe(false);

    const cut = await rejection(() => store.put(v1.manifest, v1.onnx.subarray(1), PUSHED));
    expect(cut.code).toBe('BUNDLE_HASH');
    // A manifest that is not one is refused by its schema.
    const bad = { ...v1.manifest, version: 0 };
    expect((await rejection(() => store.put(bad, v1.onnx, PUSHED))).code).toBe('BUNDLE_FORMAT');
  });

  it('takes the same version with the same bytes again but refuses other bytes under it', async () => {
    const store = openStore();
    const [v1, other] = await Promise.all([version(1), version(1, 99)]);
    expect(other.manifest.onnxSha256).not.toBe(v1.manifest.onnxSha256);
    const first = await store.put(v1.manifest, v1.onnx, PUSHED);
    const again = await store.put(v1.manifest, v1.onnx, { keyId: null, origin: 'config' });
    expect(again).toEqual(first);

    const error = await rejection(() => store.put(other.manifest, other.onnx, PUSHED));
    expect(error.code).toBe('MODEL_STORE');
    expect(error.details).toMatchObject({
      pipeline: 'cells',
      version: 1,
      sha256: other.manifest.onnxSha256,
      stored: v1.manifest.onnxSha256,
    });
    expect((await files()).filter((n) => n.endsWith('.onnx'))).toEqual([basename(first.onnxPath)]);
  });

  it('moves a corrupt state.json aside, reports it once, and has no active model until one is activated', async () => {
    await activateAll(openStore(), [await version(1)]);
    await writeFile(join(folder(), 'state.json'), '{"active": {"version": 1, "fi');

    const store = openStore();
    expect(await store.active('cells')).toBeUndefined();
    expect(faults).toHaveLength(1);
    expect(faults[0]!.code).toBe('MODEL_STORE');
    expect(faults[0]!.message).toMatch(/cannot use state\.json .*moved aside/);
    const aside = (await files()).filter((n) => /^state\.json\.corrupt-\d+$/.test(n));
    expect(aside).toHaveLength(1);
    expect(faults[0]!.details).toMatchObject({ movedTo: join(folder(), aside[0]!) });
    expect(await readFile(join(folder(), aside[0]!), 'utf8')).toBe('{"active": {"version": 1, "fi');
    expect(existsSync(join(folder(), 'state.json'))).toBe(false);

    // The versions are still there; activating one again brings the pipeline back.
    expect((await store.versions('cells')).map((v) => v.manifest.version)).toEqual([1]);
    expect(await store.highestVersion('cells')).toBe(1);
    await store.activate('cells', 1);
    expect((await store.active('cells'))?.manifest.version).toBe(1);
    expect(faults).toHaveLength(1);
  });

  it('moves aside a state.json that parses but is not a store state', async () => {
    await activateAll(openStore(), [await version(1)]);
    await writeFile(join(folder(), 'state.json'), JSON.stringify({ active: { version: 1, file: '../../etc/x' } }));
    const store = openStore();
    expect(await store.state('cells')).toEqual({ active: null, previous: [], highestVersion: 0, history: [] });
    expect(faults.map((f) => f.code)).toEqual(['MODEL_STORE']);
    expect((await files()).some((n) => n.startsWith('state.json.corrupt-'))).toBe(true);
  });

  it('refuses to hand out an active ONNX file whose bytes changed on disk', async () => {
    const store = openStore();
    const v1 = await version(1);
    await activateAll(store, [v1]);
    const path = (await store.active('cells'))!.path;
    const bytes = await readFile(path);
    bytes[bytes.length - 30]! ^= 0x10; // same size: only the hash can tell
    await writeFile(path, bytes);

    expect(await store.active('cells')).toBeUndefined();
    expect(faults).toHaveLength(1);
    expect(faults[0]!.code).toBe('MODEL_STORE');
    expect(faults[0]!.message).toMatch(/no longer matches its manifest/);
    expect(faults[0]!.details).toMatchObject({ version: 1, expected: v1.manifest.onnxSha256 });
    expect(faults[0]!.details.sha256).not.toBe(v1.manifest.onnxSha256);
  });

  it('reports an active version whose ONNX file was cut short', async () => {
    const store = openStore();
    await activateAll(store, [await version(1)]);
    const { path } = (await store.active('cells'))!;
    await writeFile(path, 'short'); // wrong size: the manifest no longer describes a usable version
    expect(await store.active('cells')).toBeUndefined();
    expect(faults.map((f) => f.message)).toEqual([
      expect.stringMatching(/cannot use v1-.*manifest\.json \(its ONNX file is missing or of the wrong size\)/),
      expect.stringMatching(/no longer holds its active version 1/),
    ]);
  });

  it('removes what a crash mid-write left behind the first time a pipeline is used', async () => {
    const v1 = await version(1);
    await activateAll(openStore(), [v1]);
    const kept = await files();
    const orphan = `v2-${'ab12'.repeat(3)}.onnx`;
    const leftovers = ['state.json.0badc0de.tmp', `${orphan}.12345678.tmp`, orphan];
    for (const name of leftovers) await writeFile(join(folder(), name), 'half written');
    await writeFile(join(folder(), 'notes.txt'), 'not the store’s');

    const store = openStore();
    expect((await store.active('cells'))?.manifest.version).toBe(1);
    expect(await files()).toEqual([...kept, 'notes.txt'].sort());
    expect(await store.highestVersion('cells')).toBe(1);
    expect(faults).toEqual([]);
  });

  it('refuses a relative folder and keepVersions under 2', () => {
    expect(thrown(() => new ModelStore('models', 3)).code).toBe('CONFIG_INVALID');
    expect(thrown(() => new ModelStore(dir, 1)).code).toBe('CONFIG_INVALID');
    expect(thrown(() => new ModelStore(dir, 2.5)).code).toBe('CONFIG_INVALID');
    expect(new ModelStore(dir, 2)).toBeInstanceOf(ModelStore);
  });

  it('refuses pipeline names that are not a folder name, without touching the disk', async () => {
    const store = openStore();
    for (const name of ['..', '.', 'a/b', '', '../cells', 'x'.repeat(65)]) {
      const error = await rejection(() => store.active(name));
      expect(error.code).toBe('MODEL_STORE');
      expect(error.message).toMatch(/not a valid pipeline name/);
    }
    const escaping = await version(1, 1, '..');
    expect((await rejection(() => store.put(escaping.manifest, escaping.onnx, PUSHED))).code).toBe('MODEL_STORE');
    expect(await readdir(dir)).toEqual([]);
    // Dots and colons are fine inside a name.
    const dotted = await version(1, 1, 'ran:cells.v2');
    await store.put(dotted.manifest, dotted.onnx, PUSHED);
    expect(await readdir(join(dir, 'models'))).toEqual(['ran:cells.v2']);
  });
});
