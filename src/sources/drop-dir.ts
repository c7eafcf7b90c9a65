import { mkdir, readdir, rename, stat, unlink, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { isCellwatchError, type ErrorCode } from '../errors.js';
import { errorText, pollUntilAborted, type SampleBatcher, type SourceEvent } from './hand-over.js';

/**
 * A drop directory: other software writes whole files into it, cellwatch takes each one once it is
 * complete, hands its rows over and then moves it to a done folder (or deletes it), or moves it to a failed
 * (quarantine) folder with a `.reason.txt` beside it when it cannot be used at all. The parser is a
 * parameter, so every file format (CSV/JSONL, 3GPP PM XML, VES) plugs in here.
 *
 * A file counts as complete when its size and modification time are the same on two scans in a row. A
 * writer that pauses longer than the poll interval mid-file defeats that: such writers should write under
 * a name starting with '.' or ending in .tmp or .partial and rename when done, which is always safe.
 */

/** One dropped file, read. */
export interface ParsedFile {
  events: AsyncIterable<SourceEvent> | Iterable<SourceEvent>;
  /**
   * Called once every row the file gave is buffered, before the file is moved: where a parser keeps state of
   * its own (what it has ingested), it commits it here, so a crash in between re-reads the file instead of
   * losing it.
   */
  commit?: () => void;
}

/**
 * Read one file. Throw (before yielding anything, where possible) when the file cannot be used at all;
 * yield issues for rows it skips.
 */
export type FileParser = (path: string) => Promise<ParsedFile>;

export interface DropDirectoryOptions {
  path: string;
  pollMs: number;
  parse: FileParser;
  /** Where a read file goes: a folder (relative to path, or absolute), or 'delete'. Default: done. */
  processed?: string;
  /** Where a file that cannot be used goes, with its reason file; relative to path, or absolute. Default: failed. */
  failed?: string;
}

/** What happened to the files a drop directory took, since start. */
export interface FileCounts {
  /** Read and handed over (including files whose every row was buffered before). */
  ingested: number;
  /** Moved to the failed (quarantine) folder. */
  failed: number;
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
  private readonly counts: FileCounts = { ingested: 0, failed: 0 };

  constructor(
    private readonly options: DropDirectoryOptions,
    private readonly batcher: SampleBatcher,
    private readonly signal: AbortSignal,
  ) {}

  get fileCounts(): Readonly<FileCounts> {
    return this.counts;
  }

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
    let parsed: ParsedFile;
    try {
      parsed = await this.options.parse(path);
    } catch (err) {
      return this.fail(name, err, 0);
    }

    let samples = 0;
    try {
      for await (const event of parsed.events) {
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
    parsed.commit?.();
    this.counts.ingested++;
    const processed = this.options.processed ?? DONE_DIR;
    if (processed === 'delete') await this.remove(name);
    else await this.move(name, processed);
  }

  /** Move a file that could not be read to failed/, with the reason beside it, and report it. */
  private async fail(name: string, err: unknown, samplesTaken: number): Promise<void> {
    const code: ErrorCode = isCellwatchError(err) ? err.code : 'SOURCE_READ';
    const taken = samplesTaken > 0 ? ` after ${samplesTaken} rows were taken` : '';
    const reason = `${code}: ${errorText(err)}${taken}`;
    const line = isCellwatchError(err) && typeof err.details.line === 'number' ? err.details.line : undefined;
    const folder = this.options.failed ?? FAILED_DIR;
    this.counts.failed++;
    this.report(code, `${name} moved to ${folder}/: ${reason}`, join(this.options.path, name), line);

    const target = await this.move(name, folder);
    if (target !== undefined) await writeFile(`${target}.reason.txt`, `${reason}\n`).catch(() => undefined);
  }

  /** Move into a folder under a name not taken yet; returns the new path, or undefined when it failed. */
  private async move(name: string, folder: string): Promise<string | undefined> {
    const from = join(this.options.path, name);
    const dir = resolve(this.options.path, folder);
    try {
      await mkdir(dir, { recursive: true });
      const target = join(dir, await freeName(dir, name));
      await rename(from, target);
      return target;
    } catch (err) {
      await this.leaveInPlace(name, `cannot move ${name} to ${folder}/: ${errorText(err)}`);
      return undefined;
    }
  }

  private async remove(name: string): Promise<void> {
    await unlink(join(this.options.path, name)).catch((err: unknown) =>
      this.leaveInPlace(name, `cannot delete ${name}: ${errorText(err)}`),
    );
  }

  /** Left where it is, a file would be read again on every scan: remember it until it changes. */
  private async leaveInPlace(name: string, message: string): Promise<void> {
    const from = join(this.options.path, name);
    const info = await stat(from).catch(() => undefined);
    if (info) this.stuck.set(name, { size: info.size, mtimeMs: info.mtimeMs });
    this.report('SOURCE_READ', message, from);
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
