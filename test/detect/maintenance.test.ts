import { describe, expect, it } from 'vitest';
import { MaintenanceCalendar } from '../../src/detect/maintenance.js';
import { thrown } from '../helpers.js';

const NOW_MS = Date.UTC(2026, 2, 1, 12);
const MINUTE_MS = 60_000;

describe('MaintenanceCalendar from the configuration', () => {
  const calendar = MaintenanceCalendar.fromConfig([
    { entity: 'SITE-042/2', start: '2026-03-01T12:00:00Z', end: '2026-03-01T13:00:00Z', reason: 'antenna swap' },
    { start: '2026-03-02 02:00', end: '2026-03-02T04:00:00+01:00' },
  ]);

  it('keeps both windows with ids, times in ms and no undefined fields', () => {
    expect(calendar.active(NOW_MS)).toEqual([
      {
        id: 'config-0',
        entity: 'SITE-042/2',
        startMs: NOW_MS,
        endMs: NOW_MS + 60 * MINUTE_MS,
        reason: 'antenna swap',
        origin: 'config',
      },
      { id: 'config-1', startMs: Date.UTC(2026, 2, 2, 2), endMs: Date.UTC(2026, 2, 2, 3), origin: 'config' },
    ]);
  });

  it('silences its entity from start (included) to end (excluded)', () => {
    expect(calendar.isSilenced('SITE-042/2', NOW_MS - 1)).toBe(false);
    expect(calendar.isSilenced('SITE-042/2', NOW_MS)).toBe(true);
    expect(calendar.isSilenced('SITE-042/2', NOW_MS + 60 * MINUTE_MS - 1)).toBe(true);
    expect(calendar.isSilenced('SITE-042/2', NOW_MS + 60 * MINUTE_MS)).toBe(false);
    expect(calendar.isSilenced('SITE-042/1', NOW_MS)).toBe(false);
  });

  it('silences every entity during a site-wide window', () => {
    expect(calendar.isSilenced('SITE-042/1', Date.UTC(2026, 2, 2, 2, 30))).toBe(true);
    expect(calendar.isSilenced('host', Date.UTC(2026, 2, 2, 2, 30))).toBe(true);
  });

  it('lets a window for a site key cover that site’s sectors, but not a longer name', () => {
    const site = MaintenanceCalendar.fromConfig([{ entity: 'SITE-042', start: '2026-03-01', end: '2026-03-02' }]);
    expect(site.isSilenced('SITE-042/3', NOW_MS)).toBe(true);
    expect(site.isSilenced('SITE-0421/3', NOW_MS)).toBe(false);
  });

  it.each([
    [[{ start: 'tomorrow', end: '2026-03-02' }], '/maintenance/0/start'],
    [
      [
        { start: '2026-03-01', end: '2026-03-02' },
        { start: '2026-03-01', end: '2026-02-30' },
      ],
      '/maintenance/1/end',
    ],
    [[{ start: '2026-03-02', end: '2026-03-01T23:00:00Z' }], '/maintenance/0/end'],
    [[{ start: '2026-03-02', end: '2026-03-02' }], '/maintenance/0/end'],
  ])('refuses %j with CONFIG_INVALID at %s', (entries, path) => {
    expect(thrown(() => MaintenanceCalendar.fromConfig(entries))).toMatchObject({
      code: 'CONFIG_INVALID',
      details: { path },
    });
  });
});

describe('MaintenanceCalendar start command', () => {
  it('opens a window of durationMinutes from now, with an id stable for the same entity and start', () => {
    const calendar = new MaintenanceCalendar();
    const window = calendar.applyCommand({ action: 'start', entity: 'SITE-042/1', durationMinutes: 30 }, NOW_MS);
    expect(window).toEqual({
      id: `SITE-042/1@${NOW_MS}`,
      entity: 'SITE-042/1',
      startMs: NOW_MS,
      endMs: NOW_MS + 30 * MINUTE_MS,
      origin: 'command',
    });
    calendar.applyCommand({ action: 'start', entity: 'SITE-042/1', durationMinutes: 45 }, NOW_MS);
    expect(calendar.active(NOW_MS).map((w) => w.endMs)).toEqual([NOW_MS + 45 * MINUTE_MS]);
  });

  it('takes durationMinutes from a given start, or an explicit end, and accepts JSON text or bytes', () => {
    const calendar = new MaintenanceCalendar();
    const later = { action: 'start', id: 'mw-1', start: '2026-03-01T14:00:00Z', durationMinutes: 90, reason: 'x' };
    expect(calendar.applyCommand(JSON.stringify(later), NOW_MS)).toMatchObject({
      id: 'mw-1',
      startMs: Date.UTC(2026, 2, 1, 14),
      endMs: Date.UTC(2026, 2, 1, 15, 30),
      reason: 'x',
    });
    const bytes = Buffer.from(JSON.stringify({ action: 'start', end: '2026-03-01T12:10:00Z' }));
    expect(calendar.applyCommand(bytes, NOW_MS)).toMatchObject({ id: `*@${NOW_MS}`, endMs: NOW_MS + 10 * MINUTE_MS });
    expect(calendar.isSilenced('anything', NOW_MS + 5 * MINUTE_MS)).toBe(true);
  });

  it.each([
    ['not JSON', '{action', ''],
    ['not an object', [1, 2], ''],
    ['missing action', { durationMinutes: 5 }, '/action'],
    ['unknown action', { action: 'pause', durationMinutes: 5 }, '/action'],
    ['unknown key', { action: 'start', durationMinutes: 5, site: 'x' }, '/site'],
    ['neither duration nor end', { action: 'start' }, '/durationMinutes'],
    ['both duration and end', { action: 'start', durationMinutes: 5, end: '2026-03-01T13:00:00Z' }, '/end'],
    ['zero duration', { action: 'start', durationMinutes: 0 }, '/durationMinutes'],
    ['duration over a week', { action: 'start', durationMinutes: 10_081 }, '/durationMinutes'],
    ['duration as text', { action: 'start', durationMinutes: '30' }, '/durationMinutes'],
    ['bad start', { action: 'start', start: 'noon', durationMinutes: 5 }, '/start'],
    ['bad end', { action: 'start', end: '2026-03-01T25:00:00Z' }, '/end'],
    ['end before start', { action: 'start', start: '2026-03-01T14:00:00Z', end: '2026-03-01T13:00:00Z' }, '/end'],
    ['end in the past', { action: 'start', start: '2026-03-01T10:00:00Z', end: '2026-03-01T11:00:00Z' }, '/end'],
    ['window over a week', { action: 'start', end: '2026-03-09T12:00:00Z' }, '/end'],
    ['empty entity', { action: 'start', entity: '', durationMinutes: 5 }, '/entity'],
    ['id with a space', { action: 'start', id: 'my window', durationMinutes: 5 }, '/id'],
    ['reason too long', { action: 'start', durationMinutes: 5, reason: 'r'.repeat(201) }, '/reason'],
    ['start field on end', { action: 'end', durationMinutes: 5 }, '/durationMinutes'],
    ['configured id', { action: 'start', id: 'config-0', durationMinutes: 5 }, '/id'],
    ['end of a configured id', { action: 'end', id: 'config-0' }, '/id'],
  ])('refuses a payload with %s: COMMAND_INVALID at its path', (_what, payload, path) => {
    const calendar = MaintenanceCalendar.fromConfig([{ start: '2026-03-01', end: '2026-03-02' }]);
    expect(thrown(() => calendar.applyCommand(payload, NOW_MS))).toMatchObject({
      code: 'COMMAND_INVALID',
      details: { path },
    });
  });
});

describe('MaintenanceCalendar end command', () => {
  function calendarWithWindows(): MaintenanceCalendar {
    const calendar = MaintenanceCalendar.fromConfig([{ start: '2026-03-01', end: '2026-03-02' }]);
    calendar.applyCommand({ action: 'start', id: 'a', entity: 'SITE-042/1', durationMinutes: 60 }, NOW_MS);
    calendar.applyCommand({ action: 'start', id: 'b', entity: 'SITE-042/1', durationMinutes: 60 }, NOW_MS);
    calendar.applyCommand({ action: 'start', id: 'c', entity: 'SITE-042/2', durationMinutes: 60 }, NOW_MS);
    calendar.applyCommand({ action: 'start', id: 'd', durationMinutes: 60 }, NOW_MS);
    calendar.applyCommand({ action: 'start', id: 'e', start: '2026-03-01T15:00:00Z', durationMinutes: 60 }, NOW_MS);
    return calendar;
  }
  const later = NOW_MS + 10 * MINUTE_MS;

  it('ends one window by id at the time of the command, keeping the rows before it silenced', () => {
    const calendar = calendarWithWindows();
    expect(calendar.applyCommand({ action: 'end', id: 'a' }, later)).toEqual({ cleared: ['a'] });
    expect(calendar.active(later).map((w) => w.id)).toEqual(['config-0', 'b', 'c', 'd', 'e']);
    expect(calendar.toJSON().find((w) => w.id === 'a')?.endMs).toBe(later);
  });

  it('ends every command window of an entity, or every site-wide one, and removes those not yet begun', () => {
    const calendar = calendarWithWindows();
    expect(calendar.applyCommand({ action: 'end', entity: 'SITE-042/1' }, later)).toEqual({ cleared: ['a', 'b'] });
    expect(calendar.applyCommand({ action: 'end' }, later)).toEqual({ cleared: ['d', 'e'] });
    expect(calendar.active(later).map((w) => w.id)).toEqual(['config-0', 'c']);
    expect(calendar.toJSON().map((w) => w.id)).toEqual(['a', 'b', 'c', 'd']);
  });

  it('clears nothing for an unknown id, so a command delivered twice is harmless', () => {
    const calendar = calendarWithWindows();
    calendar.applyCommand({ action: 'end', id: 'a' }, later);
    expect(calendar.applyCommand({ action: 'end', id: 'a' }, later)).toEqual({ cleared: [] });
    expect(calendar.applyCommand({ action: 'end', id: 'zz' }, later)).toEqual({ cleared: [] });
  });
});

describe('MaintenanceCalendar lifecycle', () => {
  it('prunes windows that are over and returns their ids', () => {
    const calendar = MaintenanceCalendar.fromConfig([{ start: '2026-03-01T00:00Z', end: '2026-03-01T06:00Z' }]);
    calendar.applyCommand({ action: 'start', id: 'short', durationMinutes: 5 }, NOW_MS);
    calendar.applyCommand({ action: 'start', id: 'long', durationMinutes: 600 }, NOW_MS);
    expect(calendar.prune(NOW_MS + 5 * MINUTE_MS)).toEqual(['config-0', 'short']);
    expect(calendar.active(NOW_MS).map((w) => w.id)).toEqual(['long']);
  });

  it('saves only command windows and restores them on top of the configuration', () => {
    const entries = [{ start: '2026-03-01', end: '2026-03-02' }];
    const calendar = MaintenanceCalendar.fromConfig(entries);
    calendar.applyCommand(
      { action: 'start', id: 'mw', entity: 'SITE-042/1', durationMinutes: 30, reason: 'r' },
      NOW_MS,
    );
    const stored: unknown = JSON.parse(JSON.stringify(calendar));
    expect(stored).toEqual([
      {
        id: 'mw',
        entity: 'SITE-042/1',
        startMs: NOW_MS,
        endMs: NOW_MS + 30 * MINUTE_MS,
        reason: 'r',
        origin: 'command',
      },
    ]);
    const restored = MaintenanceCalendar.fromJSON(stored, entries);
    expect(restored.active(NOW_MS)).toEqual(calendar.active(NOW_MS));
  });

  it('refuses stored data that is not a list of windows', () => {
    expect(() => MaintenanceCalendar.fromJSON([{ id: 'x', startMs: 'soon' }])).toThrow(TypeError);
  });
});
