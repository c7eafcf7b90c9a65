/**
 * A reader for ONAP/O-RAN VES (Virtual Event Streaming) events that carry performance data, as PM blocks:
 * `perf3gpp` events (3GPP PM wrapped in JSON) and host/VNF metrics in `measurement` (VES 7) and
 * `measurementsForVfScaling` (VES 5) events. The rest of the agent sees the same blocks as from PM XML.
 *
 * Input: one event `{"event": {...}}`, a batch `{"eventList": [...]}`, a JSON array of events, or JSON
 * Lines. VES files are small, so the whole text is parsed at once. Content that is not JSON, or JSON that
 * holds no measurement event, throws; a bad event in a batch, a block without a period or a bad value is
 * skipped and said.
 */
import { CellwatchError } from '../errors.js';
import type { PmEvent, PmFileInfo, PmSkip, PmValue } from './pm-block.js';
import { epochToMs } from './pm-time.js';

export interface PmVesOptions {
  /** The file's name, for error details only: VES names carry no period. */
  fileName?: string;
}

type Json = Record<string, unknown>;
type Period = { beginMs: number; endMs: number };

/** One event as found in the input, with where it was and what its wrapper said. */
interface Found {
  event: unknown;
  line?: number;
  /** What the input held instead, when it holds no event: for the "not a VES event" message. */
  shape: string;
  version?: string;
}

/** A block before its period is known; blocks without values are not handed out. */
interface Draft {
  measInfo: string;
  object: string;
  suspect: boolean;
  values: Map<string, PmValue>;
  /** Reasons for value skips, already naming the block. */
  skips: string[];
}

interface MeasurementEvent {
  kind: 'perf3gpp' | 'measurement';
  found: Found;
  header: Json;
  fields: Json | undefined;
  fieldsName: string;
}

type Classified = MeasurementEvent | { kind: 'other'; found: Found; reason: string };

const FIELDS: Readonly<Record<string, { kind: 'perf3gpp' | 'measurement'; fieldsName: string }>> = {
  perf3gpp: { kind: 'perf3gpp', fieldsName: 'perf3gppFields' },
  measurement: { kind: 'measurement', fieldsName: 'measurementFields' },
  measurementsForVfScaling: { kind: 'measurement', fieldsName: 'measurementsForVfScalingFields' },
};

/** Read VES events, yielding 'file' once a measurement event is found, then blocks and skips in input order. */
export function* readVes(text: string, options: PmVesOptions = {}): Generator<PmEvent> {
  const details = options.fileName === undefined ? {} : { file: options.fileName };
  const events = parseInput(text.replace(/^\uFEFF/, ''), details).map(classify);
  const measured = events.filter((e): e is MeasurementEvent => e.kind !== 'other');
  if (measured.length === 0) {
    const reasons = [...new Set(events.map((e) => (e.kind === 'other' ? e.reason : '')))];
    throw new CellwatchError('PM_NOT_PM_DATA', reasons.slice(0, 3).join('; '), details);
  }

  yield { kind: 'file', info: fileInfo(measured[0]!) };
  for (const [i, e] of events.entries()) {
    const where = events.length > 1 ? `event ${i + 1}: ` : '';
    if (e.kind === 'other') yield skip('block', where + e.reason, e.found.line);
    else yield* blocksOf(e, where);
  }
}

// ---- Input shapes ----

function parseInput(text: string, details: Json): Found[] {
  try {
    return eventsIn(parseJson(text));
  } catch (err) {
    const lines = text.split(/\r?\n/);
    const first = lines.findIndex((line) => line.trim() !== '');
    // JSON Lines: the whole is not JSON, but its first line is an object on its own.
    if (lines.filter((line) => line.trim() !== '').length < 2 || !isObject(tryJson(lines[first]!))) {
      throw new CellwatchError('PM_MALFORMED', `not JSON: ${(err as Error).message}`, details);
    }
    return lines.flatMap((line, i) => {
      if (line.trim() === '') return [];
      try {
        return eventsIn(parseJson(line), i + 1);
      } catch (lineErr) {
        const message = `line ${i + 1} is not JSON: ${(lineErr as Error).message}`;
        throw new CellwatchError('PM_MALFORMED', message, { ...details, line: i + 1 });
      }
    });
  }
}

function eventsIn(root: unknown, line?: number): Found[] {
  const at = line === undefined ? {} : { line };
  if (Array.isArray(root) && root.length === 0) return [{ event: undefined, shape: 'an empty JSON array', ...at }];
  if (Array.isArray(root)) return root.map((item, i) => unwrap(item, `element ${i + 1}`, at));
  if (!isObject(root)) return [{ event: root, shape: `the JSON is ${describe(root)}`, ...at }];

  const version = typeof root.VESversion === 'string' ? { version: root.VESversion } : {};
  if (isObject(root.event)) return [{ event: root.event, shape: shapeOf(root.event, 'event'), ...at, ...version }];
  if (Array.isArray(root.eventList)) {
    if (root.eventList.length === 0) return [{ event: undefined, shape: 'an empty eventList', ...at }];
    return root.eventList.map((item, i) => ({ ...unwrap(item, `eventList element ${i + 1}`, at), ...version }));
  }
  return [{ event: root, shape: shapeOf(root, 'top-level'), ...at }];
}

/** An array or batch element: the event itself (VES batch) or wrapped in `{"event": ...}`. */
function unwrap(item: unknown, name: string, at: { line?: number }): Found {
  const event = isObject(item) && isObject(item.event) ? item.event : item;
  return { event, shape: shapeOf(event, name), ...at };
}

function shapeOf(value: unknown, name: string): string {
  if (!isObject(value)) return `${name} is ${Array.isArray(value) ? 'an array' : describe(value)}`;
  const keys = Object.keys(value);
  return `${name} keys: ${keys.slice(0, 8).join(', ')}${keys.length > 8 ? ', ...' : ''}`;
}

function classify(found: Found): Classified {
  const event = asObject(found.event);
  const header = asObject(event?.commonEventHeader);
  if (!event || !header) {
    return { kind: 'other', found, reason: `not a VES event: no event.commonEventHeader (${found.shape})` };
  }

  // A header without a domain still counts when the event carries one of the measurement field sets.
  const domain =
    typeof header.domain === 'string' ? header.domain : Object.keys(FIELDS).find((d) => FIELDS[d]!.fieldsName in event);
  const known = domain !== undefined && Object.hasOwn(FIELDS, domain) ? FIELDS[domain] : undefined;
  if (!known) {
    const which = domain === undefined ? 'without a domain' : `of domain "${domain}"`;
    return { kind: 'other', found, reason: `VES event ${which} carries no measurements` };
  }
  return { kind: known.kind, found, header, fields: asObject(event[known.fieldsName]), fieldsName: known.fieldsName };
}

function fileInfo(event: MeasurementEvent): PmFileInfo {
  const info: PmFileInfo = { format: 'ves' };
  const vendor = text(event.header.nfVendorName);
  const version = text(event.header.vesEventListenerVersion) || event.found.version;
  if (vendor !== '') info.vendor = vendor;
  if (version) info.fileFormatVersion = version;
  return info;
}

// ---- Blocks ----

function* blocksOf(e: MeasurementEvent, where: string): Generator<PmEvent> {
  const line = e.found.line;
  const collection = e.kind === 'perf3gpp' ? asObject(e.fields?.measDataCollection) : undefined;
  if (!e.fields || (e.kind === 'perf3gpp' && !collection)) {
    const missing = e.kind === 'perf3gpp' ? 'perf3gppFields.measDataCollection' : e.fieldsName;
    yield skip('block', `${where}${e.kind} event has no ${missing}`, line);
    return;
  }

  const { header } = e;
  const sender = text(header.reportingEntityName) || text(header.sourceName);
  const element = text(collection?.measuredEntityDn) || text(header.sourceName) || sender;
  const length = e.kind === 'perf3gpp' ? 'granularityPeriod' : 'measurementInterval';
  const period = periodOf(header, (collection ?? e.fields)[length], length);
  const drafts = e.kind === 'perf3gpp' ? perf3gppDrafts(collection) : measurementDrafts(e.fields);

  for (const draft of drafts) {
    const name = `measInfo "${draft.measInfo}", object "${draft.object}"`;
    if (typeof period === 'string') {
      if (draft.values.size > 0) yield skip('block', `${where}${name}: no usable period: ${period}`, line);
      continue;
    }
    for (const reason of draft.skips) yield skip('value', `${where}${name}: ${reason}`, line);
    if (draft.values.size === 0) continue;
    const { measInfo, object, suspect, values } = draft;
    yield { kind: 'block', block: { sender, element, measInfo, object, ...period, suspect, values } };
  }
}

const MIN_PERIOD_MS = 1_000;
const MAX_LENGTH_S = 86_400;
const EPOCH_FLOOR = 1e9;

/**
 * The period from the header's epochs, else from the start and the block's length field. An end less than
 * a second after the start is a producer stamping "now" into both fields, not a granularity period.
 */
function periodOf(header: Json, lengthRaw: unknown, lengthName: string): Period | string {
  const beginMs = epochOf(header.startEpochMicrosec);
  if (beginMs === undefined) return `startEpochMicrosec is ${describe(header.startEpochMicrosec)}`;
  const lastMs = epochOf(header.lastEpochMicrosec);
  if (lastMs !== undefined && lastMs - beginMs >= MIN_PERIOD_MS) return { beginMs, endMs: lastMs };

  // Some producers put the end epoch into granularityPeriod instead of a length in seconds.
  const length = numberOf(lengthRaw);
  const endMs =
    length === undefined || length <= 0
      ? undefined
      : length > EPOCH_FLOOR
        ? epochToMs(length)
        : length <= MAX_LENGTH_S
          ? beginMs + Math.round(length * 1000)
          : undefined;
  if (endMs !== undefined && endMs - beginMs >= MIN_PERIOD_MS) return { beginMs, endMs };
  const last = lastMs === undefined ? describe(header.lastEpochMicrosec) : 'not after startEpochMicrosec';
  return `lastEpochMicrosec is ${last} and ${lengthName} is ${describe(lengthRaw)}`;
}

function perf3gppDrafts(collection: Json | undefined): Draft[] {
  return asArray(collection?.measInfoList).flatMap((item, i) => {
    const info = asObject(item) ?? {};
    const id = asObject(info.measInfoId);
    const measInfo = text(id?.sMeasInfoId) || text(id?.iMeasInfoId) || `#${i + 1}`;
    const typeList = asObject(info.measTypes);
    const types = asArray(typeList?.sMeasTypesList ?? typeList?.iMeasTypesList).map((t, n) => text(t) || `#${n + 1}`);
    return asArray(info.measValuesList).map((mv) => measValueDraft(measInfo, types, asObject(mv) ?? {}));
  });
}

// Values follow the measTypes order; `p` is the 1-based position of a result's type in that list.
function measValueDraft(measInfo: string, types: string[], measValue: Json): Draft {
  const draft = newDraft(measInfo, text(measValue.measObjInstId), isTrue(measValue.suspectFlag));
  const byP = new Map<number, unknown>();
  for (const item of asArray(measValue.measResults)) {
    const result = asObject(item) ?? {};
    const p = numberOf(result.p);
    if (p === undefined || !Number.isInteger(p) || p < 1 || p > types.length) {
      draft.skips.push(`measResult p=${describe(result.p)} matches no measType; it is dropped`);
    } else if (byP.has(p)) {
      draft.skips.push(`measResult p=${p} appears twice; the second is dropped`);
    } else {
      byP.set(p, isTrue(result.isNull) ? null : (result.sValue ?? result.iValue ?? result.rValue ?? null));
    }
  }

  const missing: string[] = [];
  types.forEach((type, i) => {
    if (draft.values.has(type)) {
      draft.skips.push(`measType "${type}" appears twice; the second (p=${i + 1}) is dropped`);
      return;
    }
    if (!byP.has(i + 1)) missing.push(`"${type}"`);
    const parsed = parseValue(byP.get(i + 1));
    if (typeof parsed === 'string') draft.skips.push(`measType "${type}" value ${parsed} is not a number`);
    draft.values.set(type, typeof parsed === 'string' ? null : parsed.value);
  });
  if (missing.length > 0) draft.skips.push(`no value for measType ${missing.join(', ')}; read as missing`);
  return draft;
}

// The identifier field of the arrays VES names; other arrays are searched for a field ending in Identifier/Name.
const IDENTIFIERS: Readonly<Record<string, string>> = {
  cpuUsageArray: 'cpuIdentifier',
  nicPerformanceArray: 'nicIdentifier',
  vNicPerformanceArray: 'vNicIdentifier',
  memoryUsageArray: 'vmIdentifier',
  diskUsageArray: 'diskIdentifier',
  filesystemUsageArray: 'filesystemName',
};
// Fields that describe the event rather than measure anything.
const METADATA: ReadonlySet<string> = new Set([
  'measurementInterval',
  'measurementFieldsVersion',
  'measurementsForVfScalingVersion',
]);

function measurementDrafts(fields: Json): Draft[] {
  const drafts: Draft[] = [];
  // Top-level numbers form one block, placed where the first of them is.
  const scalars = newDraft('measurementFields', '', false);
  for (const [key, raw] of Object.entries(fields)) {
    if (METADATA.has(key)) continue;
    if (key === 'additionalMeasurements' && Array.isArray(raw)) {
      drafts.push(...raw.map((entry, i) => namedDraft(asObject(entry) ?? {}, i)));
    } else if (key.endsWith('Array') && Array.isArray(raw)) {
      drafts.push(...raw.map((element, i) => arrayDraft(key, asObject(element) ?? {}, i)));
    } else {
      if (!drafts.includes(scalars)) drafts.push(scalars);
      putNumber(scalars, key, raw);
    }
  }
  return drafts;
}

function arrayDraft(array: string, element: Json, index: number): Draft {
  const known = IDENTIFIERS[array];
  const idKey =
    known !== undefined && text(element[known]) !== ''
      ? known
      : Object.keys(element).find((k) => /(Identifier|Name)$/.test(k) && typeof element[k] === 'string');
  const object = idKey === undefined ? `#${index + 1}` : `${idKey}=${text(element[idKey])}`;
  const draft = newDraft(array, object, isTrue(element.valuesAreSuspect));
  for (const [key, raw] of Object.entries(element)) {
    if (key !== idKey && key !== 'valuesAreSuspect') putNumber(draft, key, raw);
  }
  return draft;
}

/** additionalMeasurements: VES 7 `{name, hashMap: {k: "v"}}`, VES 5 `{name, arrayOfFields: [{name, value}]}`. */
function namedDraft(entry: Json, index: number): Draft {
  const draft = newDraft(text(entry.name) || `additionalMeasurements#${index + 1}`, '', false);
  const pairs: Array<[string, unknown]> = isObject(entry.hashMap)
    ? Object.entries(entry.hashMap)
    : asArray(entry.arrayOfFields).map((f) => [text(asObject(f)?.name), asObject(f)?.value]);
  for (const [key, raw] of pairs) {
    if (draft.values.has(key)) draft.skips.push(`field "${key}" appears twice; the second is dropped`);
    else putNumber(draft, key, raw);
  }
  return draft;
}

/** A measurement field is a value only when it is a number (or missing); anything else is left out. */
function putNumber(draft: Draft, key: string, raw: unknown): void {
  const parsed = parseValue(raw);
  if (typeof parsed === 'string') draft.skips.push(`field "${key}" holds ${parsed}, not a number`);
  else draft.values.set(key, parsed.value);
}

function newDraft(measInfo: string, object: string, suspect: boolean): Draft {
  return { measInfo, object, suspect, values: new Map(), skips: [] };
}

// ---- Values ----

const MISSING: ReadonlySet<string> = new Set(['', 'nil', 'null', '-', 'n/a']);
const INTEGER = /^[+-]?\d+$/;
const DECIMAL = /^[+-]?(?:\d+\.?\d*|\.\d+)(?:e[+-]?\d+)?$/i;

/** A VES value, or a description of what was there instead. Missing is null, never 0. */
function parseValue(raw: unknown): { value: PmValue } | string {
  if (raw === null || raw === undefined) return { value: null };
  if (typeof raw === 'number') return Number.isFinite(raw) ? { value: raw + 0 } : describe(raw);
  if (typeof raw !== 'string') return describe(raw);

  const trimmed = raw.trim();
  if (MISSING.has(trimmed.toLowerCase())) return { value: null };
  // 64-bit counters pass 2^53: a double would round them, so they stay exact as bigint.
  if (INTEGER.test(trimmed))
    return { value: Number.isSafeInteger(Number(trimmed)) ? Number(trimmed) + 0 : BigInt(trimmed) };
  if (DECIMAL.test(trimmed) && Number.isFinite(Number(trimmed))) return { value: Number(trimmed) + 0 };
  if (trimmed.includes(',')) {
    // A PDF/bin value: a missing bin stays in place as NaN so the bins keep their positions.
    const bins = trimmed.split(',').map((bin) => bin.trim());
    if (bins.every((bin) => MISSING.has(bin.toLowerCase()) || DECIMAL.test(bin))) {
      return { value: bins.map((bin) => (DECIMAL.test(bin) ? Number(bin) : NaN)) };
    }
  }
  return describe(raw);
}

/**
 * JSON.parse rounds integers beyond 2^53 (64-bit iValue counters) before anyone sees them. Quoting those
 * literals first keeps their digits; parseValue then makes the string an exact bigint. A parse error is
 * reported from the text as given, so its position is true.
 */
function parseJson(json: string): unknown {
  const quoted = json.replace(/"(?:[^"\\]|\\.)*"|(?<![\w.+-])-?\d{16,}(?![\w.])/g, (token) =>
    token.startsWith('"') || Number.isSafeInteger(Number(token)) ? token : `"${token}"`,
  );
  try {
    return JSON.parse(quoted) as unknown;
  } catch {
    return JSON.parse(json) as unknown;
  }
}

function tryJson(json: string): unknown {
  try {
    return JSON.parse(json) as unknown;
  } catch {
    return undefined;
  }
}

// ---- Small helpers ----

function skip(what: PmSkip['what'], reason: string, line: number | undefined): PmEvent {
  return { kind: 'skip', skip: line === undefined ? { what, reason } : { what, reason, line } };
}

function epochOf(raw: unknown): number | undefined {
  return typeof raw === 'number' || typeof raw === 'string' ? epochToMs(raw) : undefined;
}

function numberOf(raw: unknown): number | undefined {
  const n = typeof raw === 'number' ? raw : typeof raw === 'string' && DECIMAL.test(raw.trim()) ? Number(raw) : NaN;
  return Number.isFinite(n) ? n : undefined;
}

/** A name or id: strings trimmed, numbers written out, anything else ''. */
function text(raw: unknown): string {
  return typeof raw === 'string' ? raw.trim() : typeof raw === 'number' ? String(raw) : '';
}

function describe(raw: unknown): string {
  if (raw === undefined) return 'missing';
  if (typeof raw === 'string') return JSON.stringify(raw.length > 40 ? `${raw.slice(0, 40)}...` : raw);
  if (Array.isArray(raw)) return 'an array';
  if (typeof raw === 'number' || typeof raw === 'boolean' || raw === null) return String(raw);
  return typeof raw === 'object' ? 'an object' : `a ${typeof raw}`;
}

function isTrue(raw: unknown): boolean {
  return raw === true || (typeof raw === 'string' && raw.trim().toLowerCase() === 'true');
}

function isObject(value: unknown): value is Json {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function asObject(value: unknown): Json | undefined {
  return isObject(value) ? value : undefined;
}

function asArray(value: unknown): unknown[] {
  return Array.isArray(value) ? value : [];
}
