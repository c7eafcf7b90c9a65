/**
 * A streaming reader for 3GPP PM XML: TS 32.435 `measCollecFile` and its TS 28.532 twin `measDataFile`.
 * Files reach tens of megabytes on a box with little memory, so the text goes through a SAX parser one
 * chunk at a time and each measValue becomes a block as soon as it closes; the whole file never sits in
 * memory, and the events of a chunk are handed out before the next chunk is read.
 *
 * Real files differ from the schema in ways that must not cost data: namespaces are missing or vary,
 * vendors add elements and attributes, a stylesheet instruction comes before the XML declaration, values
 * are written as `<r p="1">` or as the older space-separated `<measResults>`. Faults that make the content
 * unreadable (not XML, cut short, not PM data) throw; faults in one block or one value are skipped and said.
 */
import { TextDecoder } from 'node:util';
import { SaxesParser, type SaxesTagPlain } from 'saxes';
import { CellwatchError } from '../errors.js';
import type { PmEvent, PmFileInfo, PmSkip, PmValue } from './pm-block.js';
import { parseDurationS, parsePmTime, periodFromFileName } from './pm-time.js';

export interface PmXmlOptions {
  /** The file's name: its TS 32.432 period is the fallback for a measInfo without a usable granPeriod. */
  fileName?: string;
}

/** Read a PM XML file given as chunks of UTF-8 bytes (or text), yielding 'file', then blocks and skips. */
export async function* readPmXml(
  chunks: AsyncIterable<Buffer | string>,
  options: PmXmlOptions = {},
): AsyncGenerator<PmEvent> {
  const reader = new PmXmlReader(options.fileName);
  // One decoder for the whole file: a multi-byte character may straddle two chunks.
  const decoder = new TextDecoder('utf-8', { fatal: true });

  for await (const chunk of chunks) {
    reader.write(typeof chunk === 'string' ? chunk : decodeUtf8(decoder, reader, chunk));
    yield* reader.take();
  }

  reader.write(decodeUtf8(decoder, reader));
  reader.end();
  yield* reader.take();
}

function decodeUtf8(decoder: TextDecoder, reader: PmXmlReader, chunk?: Buffer): string {
  try {
    return chunk === undefined ? decoder.decode() : decoder.decode(chunk, { stream: true });
  } catch {
    const line = reader.line;
    throw new CellwatchError('PM_MALFORMED', `the file is not UTF-8 text (near line ${line})`, { line });
  }
}

const ROOTS: ReadonlySet<string> = new Set(['measCollecFile', 'measDataFile']);
const MISSING: ReadonlySet<string> = new Set(['', 'nil', 'null', '-', 'n/a']);
const INTEGER = /^[+-]?\d+$/;
const DECIMAL = /^[+-]?(?:\d+\.?\d*|\.\d+)(?:e[+-]?\d+)?$/i;
// saxes reports this when anything, even a stylesheet instruction or a blank line, precedes <?xml ...?>.
const LATE_DECLARATION = 'an XML declaration must be at the start of the document.';

type Period = { beginMs: number; endMs: number };

interface MeasInfoState {
  /** 1-based position of the measInfo in the file, its name when it has neither id nor job. */
  position: number;
  id?: string;
  jobId?: string;
  granPeriod?: { endTime?: string; duration?: string };
  types: Array<{ p: string; name: string }>;
  period?: Period | { reason: string };
}

interface MeasValueState {
  object: string;
  line: number;
  suspect: boolean;
  /** Each result with the measType `p` it belongs to (undefined: none) and how the file addressed it. */
  results: Array<{ p: string | undefined; label: string; text: string; line: number }>;
}

class PmXmlReader {
  private readonly parser = new SaxesParser<{ xmlns: false }>({ xmlns: false });
  private readonly fileName: string | undefined;
  private pending: PmEvent[] = [];
  private readonly path: string[] = [];
  private info: PmFileInfo | undefined;
  private fileAnnounced = false;
  private sawText = false;
  private toleratedLateDeclaration = false;
  private ending = false;
  private sender = '';
  private measInfoCount = 0;
  private measData: { element?: string } | undefined;
  private measInfo: MeasInfoState | undefined;
  private measValue: MeasValueState | undefined;
  /** The text of the leaf being read (measType, r, ...), and the depth of its element. */
  private capture: { text: string; line: number; p: string | undefined; depth: number } | undefined;
  private doctypeLine: number | undefined;

  constructor(fileName: string | undefined) {
    this.fileName = fileName;
    this.parser.on('opentagstart', (tag) => this.checkRoot(tag.name));
    this.parser.on('opentag', (tag) => this.open(tag));
    this.parser.on('closetag', (tag) => this.close(localName(tag.name)));
    this.parser.on('text', (text) => this.text(text));
    this.parser.on('cdata', (text) => this.text(text));
    this.parser.on('error', (err) => this.fail(err));
    // Refused at the root, so that an HTML page still says it is not PM data. saxes expands no DTD entity,
    // and nothing in the DTD is used before then.
    this.parser.on('doctype', () => (this.doctypeLine = this.parser.line));
  }

  get line(): number {
    return this.parser.line;
  }

  write(text: string): void {
    // trim() drops a BOM too, so a file of a BOM and blanks counts as empty.
    if (!this.sawText && text.trim() !== '') this.sawText = true;
    this.parser.write(text);
  }

  end(): void {
    if (!this.sawText) throw new CellwatchError('PM_MALFORMED', 'empty file', { line: this.parser.line });
    this.ending = true;
    this.parser.close();
  }

  /** The events produced since the last call. */
  take(): PmEvent[] {
    const events = this.pending;
    this.pending = [];
    return events;
  }

  private fail(err: Error): void {
    const prefix = `${this.parser.line}:${this.parser.column}: `;
    const reason = err.message.startsWith(prefix) ? err.message.slice(prefix.length) : err.message;
    if (reason === LATE_DECLARATION && this.info === undefined && !this.toleratedLateDeclaration) {
      this.toleratedLateDeclaration = true;
      return;
    }
    throw this.malformed(reason);
  }

  private malformed(reason: string): CellwatchError {
    const { line, column } = this.parser;
    // At the end of the input the usual fault is a file cut short in transfer, not a writer's mistake.
    const what = this.ending ? 'the file ends before the root element closes' : 'not well-formed XML';
    return new CellwatchError('PM_MALFORMED', `${what} at line ${line}, column ${column}: ${reason}`, { line });
  }

  private checkRoot(name: string): void {
    if (this.info !== undefined) return;
    const root = localName(name);
    if (!ROOTS.has(root)) {
      throw new CellwatchError('PM_NOT_PM_DATA', `root element <${root}> is not measCollecFile or measDataFile`, {
        root,
      });
    }
    if (this.doctypeLine !== undefined) {
      // A PM file never carries a DTD; one is the door to entity expansion attacks.
      const line = this.doctypeLine;
      throw new CellwatchError('PM_MALFORMED', `DOCTYPE not allowed (line ${line})`, { line });
    }
    this.info = { format: root as 'measCollecFile' | 'measDataFile' };
  }

  private announceFile(): void {
    if (this.fileAnnounced || this.info === undefined) return;
    this.fileAnnounced = true;
    this.pending.push({ kind: 'file', info: this.info });
  }

  // Elements are matched by parent and local name: a vendor's <r> inside its own extension is not a value.
  private parentOf(depth: number): string {
    return depth === 0 ? '' : depth === 1 ? 'root' : (this.path[depth - 1] ?? '');
  }

  private open(tag: SaxesTagPlain): void {
    const name = localName(tag.name);
    const where = `${this.parentOf(this.path.length)}/${name}`;
    this.path.push(name);
    const line = this.parser.line;

    switch (where) {
      case 'root/fileHeader':
        this.readHeader(tag);
        break;
      case 'fileHeader/fileSender':
        this.sender = attr(tag, 'localDn') ?? attr(tag, 'senderName') ?? '';
        break;
      case 'root/measData':
        this.announceFile();
        this.measData = {};
        break;
      case 'measData/managedElement':
      case 'measData/measEntity':
        if (this.measData) this.measData.element = attr(tag, 'localDn');
        break;
      case 'measData/measInfo':
        if (this.measData) {
          this.measInfo = { position: ++this.measInfoCount, id: attr(tag, 'measInfoId'), types: [] };
        }
        break;
      case 'measInfo/job':
        if (this.measInfo) this.measInfo.jobId = attr(tag, 'jobId');
        break;
      case 'measInfo/granPeriod':
        if (this.measInfo) {
          this.measInfo.granPeriod = { endTime: attr(tag, 'endTime'), duration: attr(tag, 'duration') };
        }
        break;
      case 'measInfo/measValue':
        if (this.measInfo)
          this.measValue = { object: attr(tag, 'measObjLdn') ?? '', line, suspect: false, results: [] };
        break;
      case 'measInfo/measType':
      case 'measInfo/measTypes':
      case 'measValue/r':
      case 'measValue/measResults':
      case 'measValue/suspect':
        this.capture = { text: '', line, p: attr(tag, 'p'), depth: this.path.length };
        break;
    }
  }

  private readHeader(tag: SaxesTagPlain): void {
    if (this.info === undefined) return;
    const vendor = attr(tag, 'vendorName');
    const fileFormatVersion = attr(tag, 'fileFormatVersion');
    const dnPrefix = attr(tag, 'dnPrefix');
    if (vendor !== undefined) this.info.vendor = vendor;
    if (fileFormatVersion !== undefined) this.info.fileFormatVersion = fileFormatVersion;
    if (dnPrefix !== undefined) this.info.dnPrefix = dnPrefix;
  }

  private text(text: string): void {
    if (this.capture) this.capture.text += text;
  }

  private close(name: string): void {
    const captured = this.capture?.depth === this.path.length ? this.capture : undefined;
    if (captured) this.capture = undefined;
    this.path.pop();
    const where = `${this.parentOf(this.path.length)}/${name}`;
    const info = this.measInfo;
    const value = this.measValue;

    switch (where) {
      case '/measCollecFile':
      case '/measDataFile':
      case 'root/fileHeader':
        this.announceFile();
        break;
      case 'root/measData':
        this.measData = undefined;
        break;
      case 'measData/measInfo':
        this.measInfo = undefined;
        break;
      case 'measInfo/measType':
        if (info && captured)
          info.types.push({ p: captured.p ?? String(info.types.length + 1), name: captured.text.trim() });
        break;
      case 'measInfo/measTypes':
        for (const type of words(captured?.text)) info?.types.push({ p: String(info.types.length + 1), name: type });
        break;
      case 'measValue/r':
        if (value && captured) {
          const p = captured.p ?? String(value.results.length + 1);
          value.results.push({ p, label: `r p="${p}"`, text: captured.text.trim(), line: captured.line });
        }
        break;
      case 'measValue/measResults':
        if (info && value && captured) this.listResults(info, value, words(captured.text), captured.line);
        break;
      case 'measValue/suspect':
        if (value) value.suspect = captured?.text.trim().toLowerCase() === 'true';
        break;
      case 'measInfo/measValue':
        if (info && value) this.finishValue(info, value);
        this.measValue = undefined;
        break;
    }
  }

  // Space-separated results belong to the measTypes by position.
  private listResults(info: MeasInfoState, value: MeasValueState, texts: string[], line: number): void {
    const offset = value.results.length;
    texts.forEach((text, i) => {
      const p = info.types[offset + i]?.p;
      value.results.push({ p, label: `measResults value ${offset + i + 1}`, text, line });
    });
  }

  private finishValue(info: MeasInfoState, value: MeasValueState): void {
    const measInfo = info.id ?? (info.jobId === undefined ? `#${info.position}` : `job:${info.jobId}`);
    const period = (info.period ??= this.periodOf(info, measInfo));
    if ('reason' in period) {
      this.skip('block', period.reason, value.line);
      return;
    }

    const where = `measInfo "${measInfo}", object "${value.object}"`;
    const byP = new Map<string, MeasValueState['results'][number]>();
    for (const result of value.results) {
      if (result.p === undefined || !info.types.some((type) => type.p === result.p)) {
        this.skip('value', `${where}: ${result.label} matches no measType; "${result.text}" is dropped`, result.line);
      } else {
        byP.set(result.p, result);
      }
    }

    const values = new Map<string, PmValue>();
    const missing: string[] = [];
    for (const type of info.types) {
      const result = byP.get(type.p);
      if (values.has(type.name)) {
        this.skip('value', `${where}: measType "${type.name}" appears twice; the second is dropped`, value.line);
        continue;
      }
      if (result === undefined) missing.push(type.name);
      values.set(type.name, result === undefined ? null : this.parseResult(result, type.name, where));
    }
    if (missing.length > 0) {
      const names = missing.map((n) => `"${n}"`).join(', ');
      this.skip('value', `${where}: no value for measType ${names}; read as missing`, value.line);
    }

    this.pending.push({
      kind: 'block',
      block: {
        sender: this.sender,
        element: this.measData?.element ?? this.sender,
        measInfo,
        object: value.object,
        beginMs: period.beginMs,
        endMs: period.endMs,
        suspect: value.suspect,
        values,
      },
    });
  }

  private parseResult(result: { text: string; line: number }, type: string, where: string): PmValue {
    const parsed = parseValue(result.text);
    if (parsed !== undefined) return parsed;
    this.skip('value', `${where}: measType "${type}" value "${result.text}" is not a number`, result.line);
    return null;
  }

  // The period comes from the content; the file name is only a fallback, since one file may hold several.
  private periodOf(info: MeasInfoState, measInfo: string): Period | { reason: string } {
    const content = granPeriodOf(info.granPeriod);
    if (typeof content !== 'string') return content;

    const fromName = this.fileName === undefined ? undefined : periodFromFileName(this.fileName);
    if (fromName) return fromName;
    const why = this.fileName === undefined ? 'no file name was given' : 'the file name has no period';
    return { reason: `measInfo "${measInfo}": ${content} and ${why}` };
  }

  private skip(what: PmSkip['what'], reason: string, line: number): void {
    this.pending.push({ kind: 'skip', skip: { what, reason, line } });
  }
}

/** The period a granPeriod states, or why it states none. */
function granPeriodOf(granPeriod: MeasInfoState['granPeriod']): Period | string {
  if (granPeriod === undefined) return 'no granPeriod';
  const { endTime, duration } = granPeriod;
  if (endTime === undefined) return 'granPeriod has no endTime';
  if (duration === undefined) return 'granPeriod has no duration';

  const endMs = parsePmTime(endTime);
  if (endMs === undefined) return `granPeriod endTime "${endTime}" is not an ISO 8601 time`;
  const durationS = parseDurationS(duration);
  if (durationS === undefined) return `granPeriod duration "${duration}" is not an ISO 8601 duration`;
  return { beginMs: endMs - durationS * 1000, endMs };
}

/** A value as written in r or measResults; undefined when it is not one. Missing is null, never 0. */
function parseValue(raw: string): PmValue | undefined {
  const text = raw.trim();
  if (MISSING.has(text.toLowerCase())) return null;
  if (text.includes(',')) {
    // A PDF/bin value: a missing bin stays in place as NaN so the bins keep their positions.
    const bins = text.split(',').map((bin) => (MISSING.has(bin.trim().toLowerCase()) ? NaN : parseNumber(bin.trim())));
    return bins.some((bin) => bin === undefined) ? undefined : bins.map((bin) => Number(bin));
  }
  if (INTEGER.test(text)) {
    const n = Number(text);
    // 64-bit counters pass 2^53: a double would round them, so they stay exact as bigint.
    return Number.isSafeInteger(n) ? noNegativeZero(n) : BigInt(text);
  }
  return parseNumber(text);
}

function parseNumber(text: string): number | undefined {
  if (!DECIMAL.test(text)) return undefined;
  const n = Number(text);
  return Number.isFinite(n) ? noNegativeZero(n) : undefined;
}

// "-0" is a zero counter, and -0 would not compare equal to 0 in stores and tests.
function noNegativeZero(n: number): number {
  return n === 0 ? 0 : n;
}

function localName(name: string): string {
  return name.slice(name.indexOf(':') + 1);
}

function words(text: string | undefined): string[] {
  const trimmed = text?.trim() ?? '';
  return trimmed === '' ? [] : trimmed.split(/\s+/);
}

/** An attribute by local name, with or without a prefix; '' counts as absent. */
function attr(tag: SaxesTagPlain, name: string): string | undefined {
  let value = tag.attributes[name];
  if (value === undefined) {
    for (const [key, v] of Object.entries(tag.attributes)) if (localName(key) === name) value = v;
  }
  return value === undefined || value.trim() === '' ? undefined : value.trim();
}
