import { setImmediate as yieldToLoop } from 'node:timers/promises';
import type { PmBlock, PmFileInfo, PmSkip } from '../../telecom/pm-block.js';
import { readPmFile, type PmFormat } from './pm-file.js';

/** Blocks between two turns given back to the event loop while a file's blocks are collected. */
const BLOCKS_PER_TURN = 1_000;

/** A whole file's blocks, and what the reader skipped on the way. */
export interface ReadBlocks {
  info?: PmFileInfo;
  blocks: PmBlock[];
  skips: PmSkip[];
  skippedBlocks: number;
  skippedValues: number;
  firstBlockSkip?: string;
  firstValueSkip?: string;
  /** Distinct measurement names in the file, in order of appearance. */
  measurementNames: string[];
}

/** Skips kept with their reason; beyond this only counted. */
const MAX_KEPT_SKIPS = 100;

/**
 * Read a file's blocks into memory. A row of one entity and period may draw on several blocks anywhere in the
 * file, so the file is read whole before rows are built; the reader streams, so memory is the blocks'.
 */
export async function readPmBlocks(path: string, format: PmFormat | 'auto'): Promise<ReadBlocks> {
  const read: ReadBlocks = { blocks: [], skips: [], skippedBlocks: 0, skippedValues: 0, measurementNames: [] };
  const names = new Set<string>();
  for await (const event of await readPmFile(path, format)) {
    switch (event.kind) {
      case 'file':
        read.info = event.info;
        break;
      case 'block':
        read.blocks.push(event.block);
        for (const name of event.block.values.keys()) names.add(name);
        if (read.blocks.length % BLOCKS_PER_TURN === 0) await yieldToLoop();
        break;
      case 'skip':
        addSkip(read, event.skip);
        break;
    }
  }
  read.measurementNames = [...names];
  return read;
}

function addSkip(read: ReadBlocks, skip: PmSkip): void {
  if (read.skips.length < MAX_KEPT_SKIPS) read.skips.push(skip);
  const where = skip.line === undefined ? '' : ` (line ${skip.line})`;
  if (skip.what === 'block') {
    read.skippedBlocks++;
    read.firstBlockSkip ??= `${skip.reason}${where}`;
  } else {
    read.skippedValues++;
    read.firstValueSkip ??= `${skip.reason}${where}`;
  }
}
