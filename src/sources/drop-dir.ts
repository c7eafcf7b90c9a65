import { mkdir, readdir, rename, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { isCellwatchError, type ErrorCode } from '../errors.js';
import { errorText, pollUntilAborted, type SampleBatcher, type SourceEvent } from './hand-over.js';

/**
 * A drop directory: other software writes whole files into it, cellwatch takes each one once it is
 * complete, hands its rows over and moves it to `done/`, or to `failed/` with a `.reason.txt` when it
 * cannot be read at all. The parser is a parameter, so another file format (3GPP PM XML) plugs in here.
 *
 * A file counts as complete when its size and modification time are the same on two scans in a row. A
 * writer that pauses longer than the poll interval mid-file defeats that: such writers should write under
 * a name starting with '.' or ending in .tmp or .partial and rename when done, which is always safe.
 */

/**
 * Read one file. Throw (before yielding anything, where possible) when the file cannot be used at all;
 * yield issues for rows it skips.
 */
export type FileParser = (path: string) => Promise<AsyncIterable<SourceEvent>>;

export interface DropDirectoryOptions {
  path: string;
  pollMs: number;
  parse: FileParser;
}

export const DONE_DIR = 'done';
export const FAILED_DIR = 'failed';

interface Seen {
  size: number;
  mtimeMs: number;
}

/** Files still being written, or not meant for us: hidden files and the usual temporary suffixes. */
export function isIgnoredName(name: string): boolean {
  return name.startsWith('.') || name.endsWith('.tmp') || name.endsWith('.partial');
}

export class DropDirectory {
  /** Size and mtime of each candidate on the previous scan. */
  private previous = new Map<string, Seen>();
  /** Files that could neither be read nor moved, by the state they were in: not retried until they change. */
  private stuck = new Map<string, Seen>();
  private failing = false;

  constructor(
    private readonly options: DropDirectoryOptions,
    private readonly batcher: SampleBatcher,
    private readonly signal: AbortSignal,
  ) {}

  run(): Promise<void> {
    return pollUntilAborted(this.options.pollMs, this.signal, () => this.poll());
  }

  /** One scan; a directory that is missing or unreadable is reported once per run of failing scans. */
  private async poll(): Promise<void> {
    try {
      for (const name of await this.completeFiles()) {
        if (this.signal.aborted) return;
        await this.take(name);
        // A new file under the same name must prove complete on two scans of its own.
        this.previous.delete(name);
      }
      this.failing = false;
    } catch (err) {
      if (!this.failing) this.report('SOURCE_READ', `cannot scan ${this.options.path}: ${errorText(err)}`);
      this.failing = true;
    }
  }

  /** Names whose size and mtime did not change since the last scan, oldest first. */
  private async completeFiles(): Promise<string[]> {
    const entries = await readdir(this.options.path, { withFileTypes: true });
    const current = new Map<string, Seen>();
    for (const entry of entries) {
      if (!entry.isFile() || isIgnoredName(entry.name)) continue;
      const info = await stat(join(this.options.path, entry.name)).catch(() => undefined);
      if (info) current.set(entry.name, { size: info.size, mtimeMs: info.mtimeMs });
    }

    const complete: Array<[string, Seen]> = [];
    for (const [name, seen] of current) {
      const before = this.previous.get(name);
      const stuck = this.stuck.get(name);
      if (stuck && sameState(stuck, seen)) continue;
      this.stuck.delete(name);
      if (before && sameState(before, seen)) complete.push([name, seen]);
    }
    this.previous = current;
    complete.sort(([nameA, a], [nameB, b]) => a.mtimeMs - b.mtimeMs || nameA.localeCompare(nameB));
    return complete.map(([name]) => name);
  }

  /** Hand over one file's rows, then move it. A stop() mid-file leaves it in place, to be read again. */
  private async take(name: string): Promise<void> {
    const path = join(this.options.path, name);
    let events: AsyncIterable<SourceEvent>;
    try {
      events = await this.options.parse(path);
    } catch (err) {
      return this.fail(name, err, 0);
    }

    let samples = 0;
    try {
      for await (const event of events) {
        if (this.signal.aborted) return;
        if (event.kind === 'sample') samples++;
        await this.batcher.take(event);
      }
      await this.batcher.flush();
    } catch (err) {
      await this.batcher.flush();
      return this.fail(name, err, samples);
    }

    if (this.signal.aborted) return;
    await this.move(name, DONE_DIR);
  }

  /** Move a file that could not be read to failed/, with the reason beside it, and report it. */
  private async fail(name: string, err: unknown, samplesTaken: number): Promise<void> {
    const code: ErrorCode = isCellwatchError(err) ? err.code : 'SOURCE_READ';
    const taken = samplesTaken > 0 ? ` after ${samplesTaken} rows were taken` : '';
    const reason = `${code}: ${errorText(err)}${taken}`;
    const line = isCellwatchError(err) && typeof err.details.line === 'number' ? err.details.line : undefined;
    this.report(code, `${name} moved to ${FAILED_DIR}/: ${reason}`, join(this.options.path, name), line);

    const target = await this.move(name, FAILED_DIR);
    if (target !== undefined) await writeFile(`${target}.reason.txt`, `${reason}\n`).catch(() => undefined);
  }

  /** Move into a subfolder under a name not taken yet; returns the new path, or undefined when it failed. */
  private async move(name: string, folder: string): Promise<string | undefined> {
    const from = join(this.options.path, name);
    const dir = join(this.options.path, folder);
    try {
      await mkdir(dir, { recursive: true });
      const target = join(dir, await freeName(dir, name));
      await rename(from, target);
      return target;
    } catch (err) {
      // Left where it is, it would be read again on every scan: remember it until it changes.
      const info = await stat(from).catch(() => undefined);
      if (info) this.stuck.set(name, { size: info.size, mtimeMs: info.mtimeMs });
      this.report('SOURCE_READ', `cannot move ${name} to ${folder}/: ${errorText(err)}`, from);
      return undefined;
    }
  }

  private report(code: ErrorCode, message: string, file = this.options.path, line?: number): void {
    this.batcher.issue(line === undefined ? { code, message, file } : { code, message, file, line });
  }
}

function sameState(a: Seen, b: Seen): boolean {
  return a.size === b.size && a.mtimeMs === b.mtimeMs;
}

/** `name`, or `stem~N.ext` when a file of that name was taken before (the same hourly name every day). */
async function freeName(dir: string, name: string): Promise<string> {
  const dot = name.indexOf('.', 1);
  const [stem, ext] = dot > 0 ? [name.slice(0, dot), name.slice(dot)] : [name, ''];
  for (let n = 0; ; n++) {
    const candidate = n === 0 ? name : `${stem}~${n}${ext}`;
    const free = await stat(join(dir, candidate)).then(
      () => false,
      () => true,
    );
    if (free) return candidate;
  }
}
