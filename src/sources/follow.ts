import type { Stats } from 'node:fs';
import { open, stat, type FileHandle } from 'node:fs/promises';
import { errorText, pollUntilAborted, type SampleBatcher } from './hand-over.js';
import type { LineDecoder } from './line-decoder.js';

/**
 * Follow a growing file like `tail -F`: read what is there, then poll for appended lines. Only complete
 * lines are decoded; a line still being written waits for its newline. The file is kept open, so when it
 * is rotated (renamed away and a new one created) the rest of the old file is read before the new one;
 * when it shrinks (truncated in place) it is read again from its start, header included.
 *
 * Limits, as with tail -F: lines written to a rotated file after its successor has appeared are not read;
 * a truncation followed, within one poll, by more writing than the file held before goes unnoticed.
 */

export interface FollowOptions {
  path: string;
  pollMs: number;
  /** Start at the end of the first file opened instead of its beginning (a CSV header is still read). */
  fromEnd: boolean;
  /** Samples at or before this instant were buffered by an earlier run. */
  resumeAfterMs: number;
  /** A fresh decoder for each file opened: a rotated CSV brings its own header. */
  decoder: () => LineDecoder;
}

/** Bytes read per call: a backlog of megabytes is handed over in steps, each awaiting the sink. */
const READ_CHUNK_BYTES = 256 * 1024;

/** A "line" longer than this is not a KPI row (a binary file, a runaway writer): dropped, not buffered. */
const MAX_LINE_BYTES = 1024 * 1024;

interface Followed {
  handle: FileHandle;
  dev: number;
  ino: number;
  /** Next byte to read. */
  offset: number;
  /** Bytes after the last newline read: the start of a line still being written. */
  pending: Buffer;
  /** Lines seen so far, for issue line numbers. */
  line: number;
  /** Lines ending at or before this byte are counted, not decoded (fromEnd). */
  skipUntil: number;
  /** The current line passed MAX_LINE_BYTES and is being dropped up to its newline. */
  overlong: boolean;
  decoder: LineDecoder;
}

export class Follower {
  private file: Followed | undefined;
  private opened = false;
  private missingReported = false;
  private failing = false;
  private readonly chunk = Buffer.alloc(READ_CHUNK_BYTES);

  constructor(
    private readonly options: FollowOptions,
    private readonly batcher: SampleBatcher,
    private readonly signal: AbortSignal,
  ) {}

  run(): Promise<void> {
    return pollUntilAborted(this.options.pollMs, this.signal, () => this.poll());
  }

  /** Stop reading and let go of the file. Call after run() has returned. */
  async close(): Promise<void> {
    await this.file?.handle.close();
    this.file = undefined;
  }

  /** One poll; a fault (an unreadable file) is reported once per run of failing polls and tried again. */
  private async poll(): Promise<void> {
    try {
      await this.step();
      this.failing = false;
    } catch (err) {
      if (!this.failing) this.report(`cannot follow ${this.options.path}: ${errorText(err)}`);
      this.failing = true;
    }
  }

  private async step(): Promise<void> {
    const named = await statFile(this.options.path);
    if (this.file === undefined) {
      if (named === undefined) return this.reportMissing();
      // Read what was opened and look for rotation next time: `named` may already be older than the open file.
      this.file = await this.open(!this.opened && this.options.fromEnd);
      return this.readNew(this.file);
    }

    const file = this.file;
    const { size } = await file.handle.stat();
    if (size < file.offset) this.restart(file);
    await this.readNew(file);
    if (this.signal.aborted) return;

    if (named === undefined) return this.reportMissing();
    if (named.ino === file.ino && named.dev === file.dev) return;

    // Rotated: the old file is drained above; its unterminated last line is complete now.
    if (file.pending.length > 0) await this.takeLine(file, file.pending, Number.POSITIVE_INFINITY);
    await this.batcher.flush();
    await file.handle.close();
    this.file = undefined;
    this.file = await this.open(false);
    await this.readNew(this.file);
  }

  private async open(fromEnd: boolean): Promise<Followed> {
    const handle = await open(this.options.path, 'r');
    const info = await handle.stat();
    this.opened = true;
    this.missingReported = false;
    return {
      handle,
      dev: info.dev,
      ino: info.ino,
      offset: 0,
      pending: Buffer.alloc(0),
      line: 0,
      skipUntil: fromEnd ? info.size : 0,
      overlong: false,
      decoder: this.options.decoder(),
    };
  }

  /** Truncated in place (copytruncate): what was there is gone; start over, header first. */
  private restart(file: Followed): void {
    Object.assign(file, { offset: 0, pending: Buffer.alloc(0), line: 0, skipUntil: 0, overlong: false });
    file.decoder = this.options.decoder();
  }

  private async readNew(file: Followed): Promise<void> {
    while (!this.signal.aborted) {
      const { bytesRead } = await file.handle.read(this.chunk, 0, this.chunk.length, file.offset);
      if (bytesRead === 0) break;
      await this.takeBytes(file, this.chunk.subarray(0, bytesRead));
    }
    await this.batcher.flush();
  }

  /** Split read bytes into lines. Splitting bytes, not text, keeps a UTF-8 character cut by a read whole. */
  private async takeBytes(file: Followed, bytes: Buffer): Promise<void> {
    const data = file.pending.length > 0 ? Buffer.concat([file.pending, bytes]) : bytes;
    const dataStart = file.offset - file.pending.length;
    file.offset += bytes.length;

    let start = 0;
    for (let nl = data.indexOf(0x0a); nl !== -1; nl = data.indexOf(0x0a, start)) {
      await this.takeLine(file, data.subarray(start, nl), dataStart + nl + 1);
      start = nl + 1;
    }
    // A copy: `bytes` is the reused read buffer.
    file.pending = Buffer.from(data.subarray(start));

    if (file.pending.length > MAX_LINE_BYTES) {
      this.batcher.issue({
        code: 'INPUT_FIELD_COUNT',
        message: `line longer than ${MAX_LINE_BYTES} bytes; skipped`,
        file: this.options.path,
        line: file.line + 1,
      });
      file.pending = Buffer.alloc(0);
      file.overlong = true;
    }
  }

  private async takeLine(file: Followed, bytes: Buffer, endOffset: number): Promise<void> {
    file.line++;
    if (file.overlong) {
      file.overlong = false;
      return;
    }

    const text = bytes.toString('utf8').replace(/\r$/, '');
    const clean = file.line === 1 ? text.replace(/^\uFEFF/, '') : text;
    if (clean.trim() === '') return;
    if (endOffset <= file.skipUntil && !file.decoder.wantsHeader) return;

    for (const event of file.decoder.decode(clean, file.line)) {
      if (event.kind === 'sample' && event.sample.timestampMs <= this.options.resumeAfterMs) continue;
      await this.batcher.take(event);
    }
  }

  private reportMissing(): void {
    if (this.missingReported) return;
    this.missingReported = true;
    this.report(`${this.options.path} is missing; waiting for it to appear`);
  }

  private report(message: string): void {
    this.batcher.issue({ code: 'SOURCE_READ', message, file: this.options.path });
  }
}

/** The path's file status, or undefined while there is no regular file there. */
async function statFile(path: string): Promise<Stats | undefined> {
  try {
    const info = await stat(path);
    return info.isFile() ? info : undefined;
  } catch {
    return undefined;
  }
}
