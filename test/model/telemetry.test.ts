import { readdir } from 'node:fs/promises';
import { afterAll, describe, expect, it } from 'vitest';
import { ModelSession } from '../../src/model/session.js';
import { randomModel, scratchDir, SMALL_LAYOUT } from '../helpers.js';

// onnxruntime reads its settings when this worker makes its first session, so the cache folder is pointed at a
// scratch folder before any session exists (each test file runs in a process of its own).
const scratch = await scratchDir();
const savedCache = process.env.XDG_CACHE_HOME;
process.env.XDG_CACHE_HOME = scratch.dir;
afterAll(async () => {
  if (savedCache === undefined) delete process.env.XDG_CACHE_HOME;
  else process.env.XDG_CACHE_HOME = savedCache;
  await scratch.cleanup();
});

describe('onnxruntime telemetry', () => {
  it('is off: loading and running a model writes nothing to the cache folder', async () => {
    const session = await ModelSession.fromBytes(randomModel(SMALL_LAYOUT).bytes);
    await session.run(new Float32Array(session.width), 1);
    await session.close();
    expect(await readdir(scratch.dir, { recursive: true })).toEqual([]);
  });
});
