/**
 * The neutral form of performance measurement data, whatever file or event it came from: one block is the
 * values one measured object reported in one measurement block (3GPP `measInfo`, VES `measInfoList` entry)
 * for one granularity period. The XML and VES readers produce blocks and nothing else; mapping to entities,
 * counter deltas and KPI formulas work on blocks, so they never learn the wire format.
 */

/**
 * One reported value:
 * - a number: a gauge or counter that fits a double exactly (integers up to 2^53, and all decimals);
 * - a bigint: an integer beyond 2^53 (64-bit counters), kept exact;
 * - null: reported but missing (empty `r`, `NIL`, `-`, `null`): never read as 0;
 * - an array: a PDF/bin measurement written as comma-separated numbers (an element may be NaN when missing).
 */
export type PmValue = number | bigint | null | number[];

export interface PmBlock {
  /** The file's or event's sender: fileSender localDn / senderName, VES reportingEntityName or sourceName. */
  sender: string;
  /**
   * The managed element the values belong to: 32.435 managedElement localDn, 28.532 measEntity localDn,
   * VES measuredEntityDn or sourceName. The sender when the file names no element.
   */
  element: string;
  /** The measurement block: measInfoId, else the job id, else `#<n>` (its 1-based position in the file). */
  measInfo: string;
  /** The measured object: measObjLdn (VES measObjInstId); '' when the block names none. */
  object: string;
  /** The granularity period, in UTC milliseconds: [beginMs, endMs). */
  beginMs: number;
  endMs: number;
  /** The values carry a suspect flag (XML `<suspect>true</suspect>`, VES `suspectFlag: "true"`). */
  suspect: boolean;
  /** Measurement type name → value, in the order the block lists them. */
  values: Map<string, PmValue>;
}

/** Something a reader skipped without giving up on the file: a block without a usable period, a bad value. */
export interface PmSkip {
  /** What was skipped, for counts: 'block' (a whole measValue/block), 'value' (one value). */
  what: 'block' | 'value';
  reason: string;
  /** 1-based line in the file, when the reader knows it. */
  line?: number;
}

/** A reader's output, in file order: 'file' first (once the content is known to be PM data), then the rest. */
export type PmEvent =
  { kind: 'file'; info: PmFileInfo } | { kind: 'block'; block: PmBlock } | { kind: 'skip'; skip: PmSkip };

/** What a reader knows about a whole file once it has read it. */
export interface PmFileInfo {
  /** 'measCollecFile' (TS 32.435), 'measDataFile' (TS 28.532), or 'ves'. */
  format: 'measCollecFile' | 'measDataFile' | 'ves';
  vendor?: string;
  fileFormatVersion?: string;
  /** 32.435 dnPrefix: prepended to local DNs to make them globally unique. */
  dnPrefix?: string;
}
