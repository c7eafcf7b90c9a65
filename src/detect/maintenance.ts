import { Type, type Static } from '@sinclair/typebox';
import { Ajv, type ErrorObject } from 'ajv';
import type { MaintenanceConfig } from '../config/schema.js';
import { CellwatchError } from '../errors.js';
import { parseTimestampMs } from '../io/timestamp.js';

/**
 * Maintenance windows: planned work makes KPIs jump, so incidents of the entities it touches are silenced
 * while the rows are still scored and recorded. Windows come from the configuration or from MQTT commands;
 * only command windows are state worth keeping across a restart (the configuration is read again anyway).
 */

/** Longest window a command may open: a forgotten "start" must not silence a site for good. */
export const MAX_COMMAND_MINUTES = 10_080;

const IsoTime = Type.String({ minLength: 1, maxLength: 40, description: 'ISO 8601; without a zone it is UTC' });
const Entity = Type.String({ minLength: 1, maxLength: 128, description: 'entity key, e.g. "SITE-042/2"' });
const WindowId = Type.String({ minLength: 1, maxLength: 64, pattern: '^[A-Za-z0-9_.:@/-]+$' });
const Reason = Type.String({ maxLength: 200 });

export const MaintenanceWindowSchema = Type.Object(
  {
    id: Type.String({ minLength: 1 }),
    /** Absent: the whole site. "SITE-042" also covers "SITE-042/1", "SITE-042/2"... */
    entity: Type.Optional(Type.String({ minLength: 1 })),
    startMs: Type.Integer(),
    /** Exclusive: a row at endMs is no longer silenced. */
    endMs: Type.Integer(),
    reason: Type.Optional(Type.String()),
    origin: Type.Union([Type.Literal('config'), Type.Literal('command')]),
  },
  { additionalProperties: false },
);

export const MaintenanceStartSchema = Type.Object(
  {
    action: Type.Literal('start'),
    /** Names the window so a later "end" can target it; a start with a known id replaces that window. */
    id: Type.Optional(WindowId),
    /** Absent: the whole site. */
    entity: Type.Optional(Entity),
    /** From `start`, or from the time the command is received. Give this or `end`, not both. */
    durationMinutes: Type.Optional(Type.Number({ minimum: 1, maximum: MAX_COMMAND_MINUTES })),
    /** Default: the time the command is received. */
    start: Type.Optional(IsoTime),
    end: Type.Optional(IsoTime),
    reason: Type.Optional(Reason),
  },
  { additionalProperties: false, description: 'silence incidents of an entity, or of the whole site, for a while' },
);

export const MaintenanceEndSchema = Type.Object(
  {
    action: Type.Literal('end'),
    /** End this window; without an id, every command window of `entity` (or every site-wide one) ends. */
    id: Type.Optional(WindowId),
    entity: Type.Optional(Entity),
  },
  { additionalProperties: false, description: 'end command maintenance windows now' },
);

/** The payload of <prefix>/<site>/command/maintenance. */
export const MaintenanceCommandSchema = Type.Union([MaintenanceStartSchema, MaintenanceEndSchema]);

export type MaintenanceWindow = Static<typeof MaintenanceWindowSchema>;
export type MaintenanceStart = Static<typeof MaintenanceStartSchema>;
export type MaintenanceEnd = Static<typeof MaintenanceEndSchema>;
export type MaintenanceCommand = Static<typeof MaintenanceCommandSchema>;

const ajv = new Ajv({ allErrors: true, strict: true });
// One validator per action rather than the union: Ajv reports a union's errors for every member, and the
// sender of a "start" needs to hear about the start fields only.
const validateStart = ajv.compile<MaintenanceStart>(MaintenanceStartSchema);
const validateEnd = ajv.compile<MaintenanceEnd>(MaintenanceEndSchema);
const validateWindows = ajv.compile<MaintenanceWindow[]>(Type.Array(MaintenanceWindowSchema));

export class MaintenanceCalendar {
  private windows: MaintenanceWindow[] = [];

  /** Windows from the configuration; each problem is a CONFIG_INVALID with the key path of the bad value. */
  static fromConfig(entries: readonly MaintenanceConfig[]): MaintenanceCalendar {
    const calendar = new MaintenanceCalendar();
    entries.forEach((entry, index) => {
      const at = (key: string) => `/maintenance/${index}/${key}`;
      const startMs = configTime(entry.start, at('start'));
      const endMs = configTime(entry.end, at('end'));
      if (endMs <= startMs) {
        throw new CellwatchError('CONFIG_INVALID', `${at('end')}: must be after start`, { path: at('end') });
      }
      calendar.windows.push(
        withOptional({ id: `config-${index}`, startMs, endMs, origin: 'config' }, entry.entity, entry.reason),
      );
    });
    return calendar;
  }

  /**
   * Command windows saved by toJSON(), on top of the configuration's windows. Stored data that does not
   * match the schema is a bug or a damaged file, not operator input, hence a plain TypeError.
   */
  static fromJSON(stored: unknown, entries: readonly MaintenanceConfig[] = []): MaintenanceCalendar {
    if (!validateWindows(stored)) {
      const first = validateWindows.errors?.[0];
      throw new TypeError(`Expected stored maintenance windows: ${first?.instancePath ?? ''} ${first?.message ?? ''}`);
    }
    const calendar = MaintenanceCalendar.fromConfig(entries);
    const configIds = new Set(calendar.windows.map((w) => w.id));
    const restored = stored.filter((w) => w.origin === 'command' && w.endMs > w.startMs && !configIds.has(w.id));
    calendar.windows.push(...restored.map((w) => ({ ...w })));
    return calendar;
  }

  /** Only the command windows: the configuration's are rebuilt from the configuration on start. */
  toJSON(): MaintenanceWindow[] {
    return this.windows.filter((w) => w.origin === 'command').map((w) => ({ ...w }));
  }

  /**
   * Apply a maintenance command (an object, or its JSON text or bytes). A start returns the window it
   * created; an end returns the ids it ended. Anything malformed is a COMMAND_INVALID with a JSON pointer
   * to the bad field in details.path ('' for the payload as a whole).
   */
  applyCommand(payload: unknown, nowMs: number): MaintenanceWindow | { cleared: string[] } {
    const command = parseCommand(payload);
    return command.action === 'start' ? this.start(command, nowMs) : { cleared: this.end(command, nowMs) };
  }

  /** Rows of this entity at this time are silenced by a site-wide window or one for the entity or its site. */
  isSilenced(entity: string, timestampMs: number): boolean {
    return this.windows.some((w) => covers(w, entity) && w.startMs <= timestampMs && timestampMs < w.endMs);
  }

  /** Windows not yet over at nowMs, including those still to come, earliest start first. */
  active(nowMs: number): MaintenanceWindow[] {
    return this.windows
      .filter((w) => w.endMs > nowMs)
      .sort((a, b) => a.startMs - b.startMs)
      .map((w) => ({ ...w }));
  }

  /** Forget windows that are over; returns their ids so the caller can delete them from storage. */
  prune(nowMs: number): string[] {
    const over = this.windows.filter((w) => w.endMs <= nowMs).map((w) => w.id);
    this.windows = this.windows.filter((w) => w.endMs > nowMs);
    return over;
  }

  private start(command: MaintenanceStart, nowMs: number): MaintenanceWindow {
    if (command.durationMinutes !== undefined && command.end !== undefined) {
      throw invalid('must be left out when durationMinutes is given', '/end');
    }
    if (command.durationMinutes === undefined && command.end === undefined) {
      throw invalid('is required unless end is given', '/durationMinutes');
    }
    const startMs = command.start === undefined ? nowMs : commandTime(command.start, '/start');
    const endMs =
      command.end === undefined
        ? startMs + Math.round((command.durationMinutes ?? 0) * 60_000)
        : commandTime(command.end, '/end');
    if (endMs <= startMs) throw invalid('must be after start', '/end');
    // A window already over when it arrives is almost always a zone mistake in `end`, not a wish.
    if (endMs <= nowMs) throw invalid('is in the past', '/end');
    if (endMs - startMs > MAX_COMMAND_MINUTES * 60_000) {
      throw invalid(`is more than ${MAX_COMMAND_MINUTES} minutes after start`, '/end');
    }

    // A generated id is stable for the same entity and start, so the same command sent twice is one window.
    const id = command.id ?? `${command.entity ?? '*'}@${startMs}`;
    const existing = this.windows.find((w) => w.id === id);
    if (existing?.origin === 'config') throw invalid(`"${id}" names a configured window`, '/id');
    const window = withOptional({ id, startMs, endMs, origin: 'command' }, command.entity, command.reason);
    this.windows = [...this.windows.filter((w) => w.id !== id), window];
    return { ...window };
  }

  /** End matching command windows at nowMs; one that has not begun yet is removed outright. */
  private end(command: MaintenanceEnd, nowMs: number): string[] {
    const target = command.id === undefined ? undefined : this.windows.find((w) => w.id === command.id);
    if (target?.origin === 'config') throw invalid(`"${target.id}" names a configured window`, '/id');
    const matches = (w: MaintenanceWindow) =>
      w.origin === 'command' &&
      w.endMs > nowMs &&
      (command.id === undefined ? w.entity === command.entity : w.id === command.id) &&
      (command.entity === undefined || w.entity === command.entity);

    const cleared: string[] = [];
    this.windows = this.windows.flatMap((w) => {
      if (!matches(w)) return [w];
      cleared.push(w.id);
      return w.startMs < nowMs ? [{ ...w, endMs: nowMs }] : [];
    });
    return cleared;
  }
}

function parseCommand(payload: unknown): MaintenanceCommand {
  let value = payload;
  if (typeof value === 'string' || value instanceof Uint8Array) {
    try {
      value = JSON.parse(typeof value === 'string' ? value : Buffer.from(value).toString('utf8'));
    } catch {
      throw invalid('the payload is not JSON', '');
    }
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw invalid('the payload must be a JSON object', '');
  }
  const action = (value as { action?: unknown }).action;
  const validate = action === 'start' ? validateStart : action === 'end' ? validateEnd : undefined;
  if (!validate) throw invalid('must be "start" or "end"', '/action');
  if (validate(value)) return value;
  const problems = (validate.errors ?? []).map(describe);
  const first = problems[0] ?? { path: '', message: 'is invalid' };
  throw invalid(first.message, first.path, problems);
}

/** Ajv reports an unknown or missing key at its parent; point at the key itself. */
function describe(error: ErrorObject): { path: string; message: string } {
  if (error.keyword === 'additionalProperties') {
    return { path: `${error.instancePath}/${String(error.params.additionalProperty)}`, message: 'is not a known key' };
  }
  if (error.keyword === 'required') {
    return { path: `${error.instancePath}/${String(error.params.missingProperty)}`, message: 'is required' };
  }
  return { path: error.instancePath, message: error.message ?? 'is invalid' };
}

/** details.path is a JSON pointer to the bad field, '' for the payload as a whole. */
function invalid(message: string, path: string, problems?: { path: string; message: string }[]): CellwatchError {
  const where = path === '' ? '' : ` ${path}`;
  return new CellwatchError('COMMAND_INVALID', `maintenance command${where}: ${message}`, {
    path,
    ...(problems === undefined ? {} : { problems }),
  });
}

function commandTime(text: string, path: string): number {
  try {
    return parseTimestampMs(text);
  } catch {
    throw invalid(`is not an ISO 8601 timestamp: "${text}"`, path);
  }
}

function configTime(text: string, path: string): number {
  try {
    return parseTimestampMs(text);
  } catch {
    throw new CellwatchError('CONFIG_INVALID', `${path}: not an ISO 8601 timestamp: "${text}"`, { path });
  }
}

/** Optional fields are left out rather than set to undefined, so windows compare and serialise cleanly. */
function withOptional(
  window: Omit<MaintenanceWindow, 'entity' | 'reason'>,
  entity: string | undefined,
  reason: string | undefined,
): MaintenanceWindow {
  return { ...window, ...(entity === undefined ? {} : { entity }), ...(reason === undefined ? {} : { reason }) };
}

/** A window for "SITE-042" covers the site's sectors "SITE-042/1"...; entity keys join columns with "/". */
function covers(window: MaintenanceWindow, entity: string): boolean {
  return window.entity === undefined || entity === window.entity || entity.startsWith(`${window.entity}/`);
}
