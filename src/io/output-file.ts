import { constants } from 'node:fs';
import { access, mkdir, stat } from 'node:fs/promises';
import { dirname } from 'node:path';
import { CellwatchError } from '../errors.js';

/**
 * Check before any work that a file can be written at this path: its folder exists and is writable, and
 * the path is not a folder. Training for minutes and then failing to save is the failure this prevents.
 */
export async function checkWritable(path: string): Promise<void> {
  try {
    if (!(await stat(dirname(path))).isDirectory()) throw new Error(`${dirname(path)} is not a folder`);
    await access(dirname(path), constants.W_OK);
    const existing = await stat(path).catch(() => undefined);
    if (existing?.isDirectory()) throw new Error('is a directory');
  } catch (err) {
    throw new CellwatchError('OUTPUT_WRITE', `cannot write ${path}: ${(err as Error).message}`, { path });
  }
}

/** Create an output folder, or fail with a code if it cannot be made (a file in the way, no permission). */
export async function ensureFolder(path: string): Promise<void> {
  try {
    await mkdir(path, { recursive: true });
    if (!(await stat(path)).isDirectory()) throw new Error('not a folder');
  } catch (err) {
    throw new CellwatchError('OUTPUT_WRITE', `cannot create folder ${path}: ${(err as Error).message}`, { path });
  }
}

/** Wrap a write failure (disk full, permission) as a coded error naming the file. */
export function writeFailure(path: string, err: unknown): CellwatchError {
  if (err instanceof CellwatchError) return err;
  return new CellwatchError('OUTPUT_WRITE', `cannot write ${path}: ${(err as Error).message}`, { path });
}
