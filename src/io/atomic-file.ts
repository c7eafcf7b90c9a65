import { randomBytes } from 'node:crypto';
import { open, rename, rm } from 'node:fs/promises';
import { dirname } from 'node:path';
import { writeFailure } from './output-file.js';

/**
 * Write a file so that after a power cut it is the old file or the new one, whole: a temporary file beside
 * the target, fsync, rename over the target, fsync of the folder (a rename is durable only once its folder
 * is). The temporary file ends in `.tmp`, so whoever owns the folder can remove leftovers of a crash.
 */
export async function writeAtomic(path: string, data: Uint8Array | string): Promise<void> {
  const tmp = `${path}.${randomBytes(4).toString('hex')}.tmp`;
  try {
    const file = await open(tmp, 'wx');
    try {
      await file.writeFile(data);
      await file.sync();
    } finally {
      await file.close();
    }
    await rename(tmp, path);
    await syncFolder(dirname(path));
  } catch (err) {
    await rm(tmp, { force: true }).catch(() => undefined);
    throw writeFailure(path, err);
  }
}

/** Make the renames and removals in a folder durable. */
export async function syncFolder(folder: string): Promise<void> {
  const handle = await open(folder, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}
