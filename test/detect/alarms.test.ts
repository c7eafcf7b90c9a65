import { Value } from '@sinclair/typebox/value';
import { describe, expect, it } from 'vitest';
import { AlarmSchema, type AlarmConfig } from '../../src/config/schema.js';
import { AlarmTracker, type AlarmEvent, type ScoredRow } from '../../src/detect/alarms.js';
import { Rng } from '../../src/rng.js';
import { thrown } from '../helpers.js';

const DEFAULTS = Value.Default(AlarmSchema, {}) as AlarmConfig;
const T0_MS = Date.UTC(2026, 2, 1);
const MINUTE_MS = 60_000;

function config(overrides: Partial<AlarmConfig> = {}): AlarmConfig {
  return { ...DEFAULTS, ...overrides };
}

function row(index: number, flagged: boolean, overrides: Partial<ScoredRow> = {}): ScoredRow {
  return {
    pipeline: 'ran',
    entity: 'SITE-042/1',
    timestampMs: T0_MS + index * MINUTE_MS,
    score: flagged ? 2 : 0.5,
    threshold: 1,
    flagged,
    top: [],
    modelVersion: '3',
    silenced: false,
    ...overrides,
  };
}

/**
 * Feed a script of rows one minute apart and name each event by type and row index ("open@2").
 * x: flagged, .: clean; M and m: flagged and clean inside a maintenance window.
 */
function play(tracker: AlarmTracker, script: string, overrides: Partial<ScoredRow> = {}, firstIndex = 0) {
  const names: string[] = [];
  const events: AlarmEvent[] = [];
  [...script.replace(/\s/g, '')].forEach((c, k) => {
    const i = firstIndex + k;
    const flagged = c === 'x' || c === 'M';
    for (const e of tracker.observe(row(i, flagged, { silenced: c === 'M' || c === 'm', ...overrides }))) {
      names.push(`${e.type}@${i}`);
      events.push(e);
    }
  });
  return { names, events };
}

describe('AlarmTracker opening', () => {
  it('ignores isolated flags', () => {
    const tracker = new AlarmTracker(config(), 'SITE-042');
    expect(play(tracker, '.x.....x......xx......x..').names).toEqual([]);
    expect(tracker.openIncidents()).toEqual([]);
  });

  it('opens once when openFlags of the last windowRows rows are flagged, on the flagged row', () => {
    const tracker = new AlarmTracker(config(), 'SITE-042');
    const { names, events } = play(tracker, 'x.x..x xxx');
    expect(names).toEqual(['open@5']);
    expect(events[0]?.incident).toEqual({
      id: `SITE-042:ran:SITE-042/1:${T0_MS + 5 * MINUTE_MS}`,
      pipeline: 'ran',
      entity: 'SITE-042/1',
      modelVersion: '3',
      firstFlaggedAtMs: T0_MS,
      openedAtMs: T0_MS + 5 * MINUTE_MS,
      lastFlaggedAtMs: T0_MS + 5 * MINUTE_MS,
      durationMs: 5 * MINUTE_MS,
      rows: 6,
      flaggedRows: 3,
      peakScore: 2,
      threshold: 1,
      peakAtMs: T0_MS,
      top: [],
    });
  });

  it('does not open when the flags are spread wider than the window', () => {
    const tracker = new AlarmTracker(config(), 'SITE-042');
    expect(play(tracker, 'x...x...x...x...x').names).toEqual([]);
  });

  it('opens only a handful of incidents on 10,000 rows of independent 5 % flags', () => {
    const tracker = new AlarmTracker(config(), 'SITE-042');
    const rng = new Rng(42);
    const script = Array.from({ length: 10_000 }, () => (rng.next() < 0.05 ? 'x' : '.')).join('');
    const { names } = play(tracker, script);
    expect(names).toEqual([
      ...['open@2114', 'close@2123', 'open@3067', 'close@3076', 'open@6316', 'close@6322'],
      ...['open@7654', 'update@7666', 'close@7671', 'open@7934', 'close@7940'],
      ...['open@9342', 'close@9348', 'open@9844', 'close@9850'],
    ]);
    expect(tracker.counters()).toMatchObject({ opens: 7, updates: 1, closes: 7, levelShifts: 0 });
  });

  it('keeps pipelines and entities apart', () => {
    const tracker = new AlarmTracker(config(), 'SITE-042');
    expect(play(tracker, 'xx', { entity: 'SITE-042/1' }).names).toEqual([]);
    expect(play(tracker, 'x', { entity: 'SITE-042/2' }, 2).names).toEqual([]);
    expect(play(tracker, 'x', { pipeline: 'host' }, 3).names).toEqual([]);
    expect(play(tracker, 'x', { entity: 'SITE-042/1' }, 4).names).toEqual(['open@4']);
  });

  it('ignores a row that is not newer than the entity’s previous one, and counts it', () => {
    const tracker = new AlarmTracker(config(), 'SITE-042');
    play(tracker, 'xx');
    expect(play(tracker, 'x', {}, 1).names).toEqual([]);
    expect(tracker.counters().outOfOrder).toBe(1);
    expect(play(tracker, 'x', {}, 2).names).toEqual(['open@2']);
  });

  it('refuses openFlags larger than windowRows with the key path', () => {
    const err = thrown(() => new AlarmTracker(config({ openFlags: 7 }), 'SITE-042'));
    expect(err).toMatchObject({ code: 'CONFIG_INVALID', details: { path: '/alarms/openFlags' } });
  });
});

describe('AlarmTracker while open', () => {
  it('closes only after closeCleanRows clean rows in a row', () => {
    const tracker = new AlarmTracker(config(), 'SITE-042');
    const { names, events } = play(tracker, 'xxx ..... x ......');
    expect(names).toEqual(['open@2', 'close@14']);
    expect(events[1]?.incident).toMatchObject({
      firstFlaggedAtMs: T0_MS,
      lastFlaggedAtMs: T0_MS + 8 * MINUTE_MS,
      closedAtMs: T0_MS + 14 * MINUTE_MS,
      durationMs: 8 * MINUTE_MS,
      rows: 15,
      flaggedRows: 4,
    });
    expect(tracker.openIncidents()).toEqual([]);
  });

  it('needs new flags to open again after a close', () => {
    const tracker = new AlarmTracker(config({ closeCleanRows: 2 }), 'SITE-042');
    expect(play(tracker, 'xxx .. x xx').names).toEqual(['open@2', 'close@4', 'open@7']);
  });

  it('sends an update every updateRows rows, never one per row', () => {
    const tracker = new AlarmTracker(config({ levelShiftRows: 1_000 }), 'SITE-042');
    const { names, events } = play(tracker, `${'x'.repeat(40)}......`);
    expect(names).toEqual(['open@2', 'update@14', 'update@26', 'update@38', 'close@45']);
    expect(events.map((e) => e.incident.rows)).toEqual([3, 15, 27, 39, 46]);
  });

  it('tracks the peak score, its time, threshold and at most topKpis of its KPIs', () => {
    const tracker = new AlarmTracker(config({ topKpis: 2 }), 'SITE-042');
    const top = ['sinr_db', 'dl_throughput_mbps', 'rrc_users'].map((kpi, j) => ({
      kpi,
      observed: j,
      expected: 10,
      share: 0.5 - j * 0.1,
    }));
    const scores = [3, 2, 4, 9, 5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5];
    const events = scores.flatMap((score, i) =>
      tracker.observe(row(i, score > 1, { score, threshold: i === 3 ? 1.5 : 1, top: i === 3 ? top : [] })),
    );
    expect(events.map((e) => e.type)).toEqual(['open', 'close']);
    expect(events[0]?.incident).toMatchObject({ peakScore: 4, peakAtMs: T0_MS + 2 * MINUTE_MS, top: [] });
    expect(events[1]?.incident).toMatchObject({
      peakScore: 9,
      peakAtMs: T0_MS + 3 * MINUTE_MS,
      threshold: 1.5,
      top: top.slice(0, 2),
    });
  });

  it('hands out copies: later rows do not change an event already emitted', () => {
    const tracker = new AlarmTracker(config(), 'SITE-042');
    const { events } = play(tracker, 'xxx');
    play(tracker, 'xxxxx', { score: 7 }, 3);
    expect(events[0]?.incident).toMatchObject({ rows: 3, peakScore: 2 });
    expect(JSON.parse(JSON.stringify(events[0]))).toEqual(events[0]);
    expect(tracker.openIncidents()).toMatchObject([{ rows: 8, peakScore: 7 }]);
  });

  it('forgets a pipeline and returns its reported open incidents without closing them', () => {
    const tracker = new AlarmTracker(config(), 'SITE-042');
    play(tracker, 'xxx', { pipeline: 'ran' });
    play(tracker, 'xxx', { pipeline: 'host' });
    expect(tracker.forget('ran').map((i) => i.pipeline)).toEqual(['ran']);
    expect(tracker.openIncidents().map((i) => i.pipeline)).toEqual(['host']);
    expect(play(tracker, 'x', { pipeline: 'ran' }, 3).names).toEqual([]);
  });
});

describe('AlarmTracker level shift', () => {
  it('reports a 500-row persistent shift once, then stays silent until it ends', () => {
    const tracker = new AlarmTracker(config(), 'SITE-042');
    const { names, events } = play(tracker, `${'x'.repeat(500)}${'.'.repeat(10)}`);
    expect(names).toEqual(['open@2', 'update@14', 'update@26', 'update@38', 'level_shift@47']);
    expect(events[4]?.incident).toMatchObject({ rows: 48, flaggedRows: 48, levelShiftAtMs: T0_MS + 47 * MINUTE_MS });
    expect(tracker.openIncidents()).toEqual([]);
    expect(tracker.counters()).toMatchObject({ opens: 1, updates: 3, closes: 0, levelShifts: 1, levelShiftEnds: 1 });
  });

  it('lists a muted level shift among the open incidents until it ends', () => {
    const tracker = new AlarmTracker(config(), 'SITE-042');
    play(tracker, 'x'.repeat(100));
    expect(tracker.openIncidents()).toMatchObject([{ rows: 100, levelShiftAtMs: T0_MS + 47 * MINUTE_MS }]);
  });

  it('counts a level shift at 80 % flagged rows but not at 67 %', () => {
    const shift = new AlarmTracker(config({ levelShiftRows: 10 }), 'SITE-042');
    expect(play(shift, 'xxxx.'.repeat(10)).names).toEqual(['open@2', 'level_shift@9']);

    const flapping = new AlarmTracker(config({ levelShiftRows: 12 }), 'SITE-042');
    const { names } = play(flapping, 'xx.'.repeat(20));
    expect(names).toEqual(['open@3', 'update@15', 'update@27', 'update@39', 'update@51']);
  });

  it('opens a new incident after a level shift has ended', () => {
    const tracker = new AlarmTracker(config({ levelShiftRows: 10 }), 'SITE-042');
    expect(play(tracker, `${'x'.repeat(20)}......xxx`).names).toEqual(['open@2', 'level_shift@9', 'open@28']);
  });
});

describe('AlarmTracker rate limit', () => {
  it('emits at most maxIncidentsPerHour opens per site across entities and pipelines, counting the rest', () => {
    const tracker = new AlarmTracker(config({ maxIncidentsPerHour: 2 }), 'SITE-042');
    expect(play(tracker, 'xxx', { entity: 'SITE-042/1' }, 0).names).toEqual(['open@2']);
    expect(play(tracker, 'xxx', { pipeline: 'host', entity: 'host' }, 10).names).toEqual(['open@12']);
    const hidden = play(tracker, `xxx${'x'.repeat(20)}......`, { entity: 'SITE-042/3' }, 20);
    expect(hidden.names).toEqual([]);
    expect(tracker.counters()).toMatchObject({ opens: 2, suppressed: 1, updates: 0, closes: 0 });
    expect(tracker.openIncidents().map((i) => i.entity)).toEqual(['SITE-042/1', 'host']);
  });

  it('lets opens through again once the first open leaves the rolling hour of row time', () => {
    const tracker = new AlarmTracker(config({ maxIncidentsPerHour: 1 }), 'SITE-042');
    expect(play(tracker, 'xxx', { entity: 'A' }, 0).names).toEqual(['open@2']);
    expect(play(tracker, 'xxx', { entity: 'B' }, 59).names).toEqual([]);
    expect(play(tracker, 'xxx', { entity: 'C' }, 60).names).toEqual(['open@62']);
    expect(tracker.counters()).toMatchObject({ opens: 2, suppressed: 1 });
  });
});

describe('AlarmTracker maintenance', () => {
  it('counts an incident that would open inside maintenance as silenced and emits nothing for it', () => {
    const tracker = new AlarmTracker(config(), 'SITE-042');
    expect(play(tracker, 'MMMMMM mmmmmm').names).toEqual([]);
    expect(tracker.counters()).toMatchObject({ opens: 0, silenced: 1 });
  });

  it('opens a fresh incident after maintenance when the fault outlasts it, from new flags only', () => {
    const tracker = new AlarmTracker(config(), 'SITE-042');
    const { names, events } = play(tracker, 'MMMMMMMM xxx');
    expect(names).toEqual(['open@10']);
    expect(events[0]?.incident).toMatchObject({ firstFlaggedAtMs: T0_MS + 8 * MINUTE_MS, rows: 3 });
  });

  it('does not let maintenance flags count toward an open after the window', () => {
    const tracker = new AlarmTracker(config(), 'SITE-042');
    expect(play(tracker, 'mmmMM xx . x').names).toEqual(['open@8']);
  });

  it('keeps tracking an incident open before maintenance, without updates, and still sends its close', () => {
    const tracker = new AlarmTracker(config({ levelShiftRows: 1_000 }), 'SITE-042');
    const { names, events } = play(tracker, `xxx ${'M'.repeat(30)} xxxxx ......`);
    expect(names).toEqual(['open@2', 'update@38', 'close@43']);
    expect(events[2]?.incident).toMatchObject({ rows: 44, flaggedRows: 38 });
  });
});
