import { readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { PushInbox } from '../../src/lifecycle/push-inbox.js';
import { scratchDir } from '../helpers.js';

let dir: string;
let cleanup: () => Promise<void>;
beforeEach(async () => ({ dir, cleanup } = await scratchDir()));
afterEach(() => cleanup());

describe('PushInbox', () => {
  it('keeps pushes until they are answered and hands back the rest in arrival order', async () => {
    const inbox = new PushInbox(join(dir, 'inbox'));
    expect(inbox.pending()).toEqual([]);
    const first = inbox.keep(Buffer.from('first'));
    await new Promise((resolve) => setTimeout(resolve, 5));
    const second = inbox.keep(Buffer.from('second'));
    const third = inbox.keep(Buffer.from('third'));
    inbox.release(second);
    // What a write cut by a crash leaves, and a file that is none of the inbox's.
    await writeFile(join(dir, 'inbox', '1780000000000-0badc0de.cwb.tmp'), 'half');
    await writeFile(join(dir, 'inbox', 'notes.txt'), 'x');

    const restarted = new PushInbox(join(dir, 'inbox'));
    const pending = restarted.pending();
    expect(pending.map((p) => p.path)).toEqual([first, third]);
    expect(pending.map((p) => p.payload.toString())).toEqual(['first', 'third']);
    expect((await readdir(join(dir, 'inbox'))).filter((n) => n.endsWith('.tmp'))).toEqual([]);
    for (const p of pending) restarted.release(p.path);
    expect(restarted.pending()).toEqual([]);
  });

  it('says when the disk refuses the write, and releasing nothing is harmless', async () => {
    await writeFile(join(dir, 'a-file'), '');
    const inbox = new PushInbox(join(dir, 'a-file', 'inbox'));
    expect(inbox.keep(Buffer.from('bundle'))).toBeUndefined();
    expect(() => inbox.release(undefined)).not.toThrow();
  });
});
