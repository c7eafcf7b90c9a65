import { open, type FileHandle } from 'node:fs/promises';
import type { FileSourceConfig } from '../config/schema.js';
import { CellwatchError, isCellwatchError } from '../errors.js';
import { readColumns } from '../io/read-table.js';
import { formatOf } from '../io/source-file.js';
import { DropDirectory, type FileParser } from './drop-dir.js';
import { Follower } from './follow.js';
import { errorText, SampleBatcher, type SourceEvent } from './hand-over.js';
import { lineDecoder } from './line-decoder.js';
import { replay } from './replay.js';
import type { Source, SourceContext, SourceSink } from './source.js';
import { mapTable, openSamples } from './table-samples.js';

export interface FileSourceOptions {
  /** Directory mode: how one dropped file becomes samples; default: CSV/JSONL(.gz) via openTable. */
  parse?: FileParser;
}

/**
 * Rows from files: a recorded file replayed at a chosen speed, a live file followed as it grows, or a
 * drop directory of whole files. Each mode is its own module; this class checks the configuration against
 * the file at start() so a misfit fails the start, and owns the lifecycle.
 */
export class FileSource implements Source {
  readonly kind = 'file';
  private abort = new AbortController();
  private running: Promise<void> | undefined;
  private directory: DropDirectory | undefined;

  constructor(
    private readonly config: FileSourceConfig,
    private readonly context: SourceContext,
    private readonly options: FileSourceOptions = {},
  ) {}

  async start(sink: SourceSink): Promise<void> {
    if (this.running) throw new CellwatchError('USAGE', `source of pipeline ${this.context.pipeline} already started`);
    this.abort = new AbortController();
    const { signal } = this.abort;
    const batcher = new SampleBatcher(sink, signal);

    switch (this.config.mode) {
      case 'replay': {
        const events = await openSamples(this.config.path, this.context, this.config.timestampColumn);
        this.running = this.replay(events, sink, signal);
        return;
      }
      case 'follow': {
        const follower = await this.follower(batcher, signal);
        this.running = follower.run().finally(() => follower.close().catch(() => undefined));
        return;
      }
      case 'directory':
        this.directory = this.dropDirectory(batcher, signal);
        this.running = this.directory.run();
        return;
    }
  }

  fileCounts(): { ingested: number; failed: number } | undefined {
    return this.directory?.fileCounts;
  }

  async stop(): Promise<void> {
    this.abort.abort();
    await this.running;
    this.running = undefined;
  }

  private async replay(events: AsyncIterable<SourceEvent>, sink: SourceSink, signal: AbortSignal): Promise<void> {
    const options = { speed: this.config.speed, resumeAfterMs: this.context.resumeAfterMs };
    try {
      if ((await replay(events, options, sink, signal)) === 'stopped') return;
    } catch (err) {
      // The rows before the fault were handed over; the rest of the file cannot be read.
      if (signal.aborted) return;
      sink.issue({ code: codeOf(err), message: `replay ended early: ${errorText(err)}`, file: this.config.path });
    }
    sink.end();
  }

  /** The file need not exist yet; when it does, its header must fit the pipeline now, not at the first row. */
  private async follower(batcher: SampleBatcher, signal: AbortSignal): Promise<Follower> {
    const { path, pollMs, timestampColumn } = this.config;
    const { format, gzip } = formatOf(path);
    if (gzip) throw new CellwatchError('INPUT_FORMAT', `a compressed file cannot be followed: ${path}`, { path });
    await this.checkColumns(path, format);

    // fromEnd means "on first start": after a restart, the rows written meanwhile are read (and older skipped).
    const { resumeAfterMs } = this.context;
    const resuming = Number.isFinite(resumeAfterMs) && resumeAfterMs > 0;
    return new Follower(
      {
        path,
        pollMs,
        fromEnd: this.config.fromEnd && !resuming,
        resumeAfterMs,
        decoder: () => lineDecoder(format, this.context, timestampColumn, path),
      },
      batcher,
      signal,
    );
  }

  private async checkColumns(path: string, format: 'csv' | 'jsonl'): Promise<void> {
    // A first line still being written (no line break yet) is not a header to judge: the follower reads it
    // once it is complete.
    if (!(await firstLineComplete(path))) return;
    try {
      mapTable(this.context, this.config.timestampColumn, await readColumns(path), format, path);
    } catch (err) {
      if (isCellwatchError(err, 'INPUT_NOT_FOUND') || isCellwatchError(err, 'INPUT_EMPTY')) return;
      throw err;
    }
  }

  private dropDirectory(batcher: SampleBatcher, signal: AbortSignal): DropDirectory {
    const { path, pollMs, timestampColumn } = this.config;
    const parse =
      this.options.parse ??
      (async (file: string) => ({ events: await openSamples(file, this.context, timestampColumn) }));
    return new DropDirectory({ path, pollMs, parse }, batcher, signal);
  }
}

function codeOf(err: unknown) {
  return isCellwatchError(err) ? err.code : 'SOURCE_READ';
}

/** True when the file's first line is complete (ends in a line break); false for a missing or partial one. */
async function firstLineComplete(path: string): Promise<boolean> {
  let handle: FileHandle | undefined;
  try {
    handle = await open(path, 'r');
    const buffer = Buffer.alloc(64 * 1024);
    const { bytesRead } = await handle.read(buffer, 0, buffer.length, 0);
    return buffer.subarray(0, bytesRead).includes(0x0a);
  } catch {
    return false;
  } finally {
    await handle?.close();
  }
}
