import { constants } from 'node:fs';
import { access, stat, statfs } from 'node:fs/promises';
import { dirname } from 'node:path';
import { fileSizeBytes } from '../buffer/database.js';
import type { Config } from '../config/schema.js';
import { failure, MIB, mib, result, worse, type CheckResult, type CheckStatus } from './report.js';

/**
 * Room on disk for what the configuration lets the agent write, and whether it may write there at all.
 * Read-only: statfs and access(2), never a test file, since doctor must not create anything in the install.
 */

/**
 * Below this much free space the buffer fails whatever its limit: a checkpoint lets the WAL grow to 64 MiB
 * (JOURNAL_SIZE_LIMIT_BYTES in src/buffer/database.ts) before it is cut back.
 */
export const FREE_FLOOR_BYTES = 64 * MIB;

/** A folder the agent writes in, as this user sees it. */
export interface FolderAccess {
  path: string;
  exists: boolean;
  /** The folder, or its nearest existing ancestor when the agent would still have to create it. */
  checked: string;
  writable: boolean;
  /** Why not, when not writable. */
  reason?: string;
}

/** The path itself when it exists, else the nearest ancestor that does (the root always does). */
export async function nearestExisting(path: string): Promise<string> {
  let current = path;
  while ((await stat(current).catch(() => undefined)) === undefined) {
    const parent = dirname(current);
    if (parent === current) break;
    current = parent;
  }
  return current;
}

/**
 * Whether this user can write in a folder, or create it (the agent makes missing folders with mkdir -p):
 * write and search permission on the folder, or on its nearest existing ancestor.
 */
export async function folderAccess(path: string): Promise<FolderAccess> {
  const checked = await nearestExisting(path);
  const exists = checked === path;
  const found = await stat(checked);
  if (!found.isDirectory()) {
    const reason = `${checked} is not a folder`;
    return { path, exists, checked, writable: false, reason };
  }
  try {
    await access(checked, constants.W_OK | constants.X_OK);
    return { path, exists, checked, writable: true };
  } catch (err) {
    const reason = `${checked} is not writable by this user (${(err as NodeJS.ErrnoException).code ?? 'denied'})`;
    return { path, exists, checked, writable: false, reason };
  }
}

/** One filesystem the agent writes to, with what it needs there. */
interface Filesystem {
  holds: string;
  path: string;
  device: number;
  freeBytes: number;
  needBytes: number;
}

async function filesystemOf(holds: string, folder: string, needBytes: number): Promise<Filesystem> {
  const path = await nearestExisting(folder);
  const [fs, info] = await Promise.all([statfs(path), stat(path)]);
  // bavail, not bfree: the blocks reserved for root are not there for the service user.
  return { holds, path, device: info.dev, freeBytes: fs.bavail * fs.bsize, needBytes };
}

/**
 * Free space where the buffer and the models live. The buffer needs what its size limit still allows it to
 * grow by (storage.maxMb minus the file as it is) and at least FREE_FLOOR_BYTES; the models folder needs two
 * bundles at the largest allowed size (a push is kept in the inbox while its copy is written to the store).
 * Fail below that, warn below twice that. On one filesystem the two needs add up.
 */
export async function checkDisk(config: Readonly<Config>): Promise<CheckResult> {
  try {
    const dbBytes = fileSizeBytes(config.storage.path);
    const storageNeed = Math.max(config.storage.maxMb * MIB - dbBytes, FREE_FLOOR_BYTES);
    const modelsNeed = 2 * config.models.maxBundleMb * MIB;
    const storage = await filesystemOf('storage', dirname(config.storage.path), storageNeed);
    const models = await filesystemOf('models', config.models.dir as string, modelsNeed);
    const filesystems =
      storage.device === models.device
        ? [{ ...storage, holds: 'storage+models', needBytes: storageNeed + modelsNeed }]
        : [storage, models];

    let status: CheckStatus = 'ok';
    for (const fs of filesystems) {
      status = worse(status, fs.freeBytes < fs.needBytes ? 'fail' : fs.freeBytes < 2 * fs.needBytes ? 'warn' : 'ok');
    }
    const detail = filesystems
      .map((fs) => `${mib(fs.freeBytes)} free for ${fs.holds} at ${fs.path} (needs ${mib(fs.needBytes)})`)
      .join('; ');
    const figures = {
      freeMiB: round(Math.min(...filesystems.map((fs) => fs.freeBytes)) / MIB),
      filesystems: filesystems.map((fs) => ({
        holds: fs.holds,
        path: fs.path,
        freeMiB: round(fs.freeBytes / MIB),
        needMiB: round(fs.needBytes / MIB),
      })),
      ...(status === 'ok' ? {} : { code: 'STORAGE_FULL' }),
    };
    const why = status === 'fail' ? ': the buffer or a model push would run out of room' : '';
    return result('disk', status, `${detail}${why}`, figures);
  } catch (err) {
    return failure('disk', err);
  }
}

function round(value: number): number {
  return Math.round(value * 10) / 10;
}
