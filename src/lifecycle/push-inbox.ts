import { randomBytes } from 'node:crypto';
import {
  closeSync,
  fsyncSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  writeSync,
} from 'node:fs';
import { join } from 'node:path';

const BUNDLE_FILE = /^\d{13}-[0-9a-f]{8}\.cwb$/;

/**
 * Pushed bundles kept on disk from the moment they arrive until their result is in the outbox. mqtt.js
 * acknowledges a QoS 1 message to the broker right after the message handlers return, so a push held only in
 * memory is lost if the agent dies while probing it: the broker has let it go and the central side never
 * gets a result. Written synchronously, the bundle is on disk before the acknowledgement leaves; a restart
 * takes what is left, in arrival order. Best effort: a disk that refuses the write costs only this guarantee.
 */
export class PushInbox {
  constructor(private readonly dir: string) {}

  /** Write a pushed bundle durably; its path, or undefined when the disk refused it. */
  keep(payload: Buffer): string | undefined {
    const name = `${Date.now()}-${randomBytes(4).toString('hex')}.cwb`;
    const path = join(this.dir, name);
    try {
      mkdirSync(this.dir, { recursive: true });
      const fd = openSync(`${path}.tmp`, 'wx');
      try {
        writeSync(fd, payload);
        fsyncSync(fd);
      } finally {
        closeSync(fd);
      }
      renameSync(`${path}.tmp`, path);
      const folder = openSync(this.dir, 'r');
      try {
        fsyncSync(folder);
      } finally {
        closeSync(folder);
      }
      return path;
    } catch {
      removeQuietly(`${path}.tmp`);
      return undefined;
    }
  }

  /** The push is answered (its result is in the outbox): forget it. */
  release(path: string | undefined): void {
    if (path !== undefined) removeQuietly(path);
  }

  /** Bundles an earlier run took and never answered, oldest first; temporary files of a cut write go. */
  pending(): { path: string; payload: Buffer }[] {
    let names: string[];
    try {
      names = readdirSync(this.dir);
    } catch {
      return [];
    }
    for (const name of names.filter((n) => n.endsWith('.tmp'))) rmSync(join(this.dir, name), { force: true });
    return names
      .filter((n) => BUNDLE_FILE.test(n))
      .sort()
      .map((n) => ({ path: join(this.dir, n), payload: readFileSync(join(this.dir, n)) }));
  }
}

/** A file that cannot be removed now is removed, or answered again, after the next start. */
function removeQuietly(path: string): void {
  try {
    rmSync(path, { force: true });
  } catch {
    // Left for pending() to find.
  }
}
