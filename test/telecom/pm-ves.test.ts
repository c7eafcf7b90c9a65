import { describe, expect, it } from 'vitest';
import { CellwatchError } from '../../src/errors.js';
import type { PmBlock, PmEvent, PmSkip } from '../../src/telecom/pm-block.js';
import { readVes } from '../../src/telecom/pm-ves.js';

// 2020-06-02T12:00:00Z and 15 minutes later, the period of the ONAP kpi-computation-ms sample events.
const BEGIN_MS = Date.UTC(2020, 5, 2, 12, 0);
const END_MS = BEGIN_MS + 900_000;

type Json = Record<string, unknown>;

function header(domain: string, extra: Json = {}): Json {
  return {
    domain,
    eventId: 'e-1',
    eventName: `${domain}_AcmeNode`,
    sequence: 0,
    version: '4.0',
    vesEventListenerVersion: '7.1',
    sourceName: 'gNB-7',
    reportingEntityName: 'ems-1',
    startEpochMicrosec: BEGIN_MS * 1000,
    lastEpochMicrosec: END_MS * 1000,
    timeZoneOffset: 'UTC+05:00',
    priority: 'Normal',
    ...extra,
  };
}

const measValue = (object: string | number, results: Json[], suspectFlag = 'false'): Json => ({
  measObjInstId: object,
  suspectFlag,
  measResults: results,
});

function perf3gpp(headerExtra: Json = {}, collectionExtra: Json = {}): Json {
  return {
    commonEventHeader: header('perf3gpp', headerExtra),
    perf3gppFields: {
      perf3gppFieldsVersion: '1.0',
      measDataCollection: {
        granularityPeriod: 900,
        measuredEntityDn: 'ManagedElement=gNB-7',
        measInfoList: [
          {
            measInfoId: { sMeasInfoId: 'RRC' },
            measTypes: { sMeasTypesList: ['RRC.ConnEstabAtt', 'RRC.ConnEstabSucc'] },
            measValuesList: [
              measValue('NRCellCU=1', [
                { p: 1, iValue: 120 },
                { p: 2, sValue: '118' },
              ]),
            ],
          },
          {
            measInfoId: { iMeasInfoId: 42 },
            measTypes: { iMeasTypesList: [1, 2] },
            measValuesList: [
              measValue(
                17,
                [
                  { p: 2, rValue: 0.5 },
                  { p: 1, sValue: '7.25' },
                ],
                'true',
              ),
            ],
          },
        ],
        ...collectionExtra,
      },
    },
  };
}

function measurement(fields: Json, domain = 'measurement', headerExtra: Json = {}): Json {
  const fieldsName = domain === 'measurement' ? 'measurementFields' : 'measurementsForVfScalingFields';
  return { commonEventHeader: header(domain, headerExtra), [fieldsName]: fields };
}

const fault = (): Json => ({ commonEventHeader: header('fault'), faultFields: { alarmCondition: 'linkDown' } });

const read = (text: string): PmEvent[] => [...readVes(text)];
const readEvent = (event: Json): PmEvent[] => read(JSON.stringify({ event }));
const blocks = (events: PmEvent[]): PmBlock[] => events.flatMap((e) => (e.kind === 'block' ? [e.block] : []));
const skips = (events: PmEvent[]): PmSkip[] => events.flatMap((e) => (e.kind === 'skip' ? [e.skip] : []));

function failure(text: string): CellwatchError {
  try {
    read(text);
  } catch (err) {
    if (err instanceof CellwatchError) return err;
    throw err;
  }
  throw new Error('readVes did not throw');
}

describe('readVes perf3gpp', () => {
  it('turns each measValue into a block with the sender, element, object, period and values', () => {
    const events = readEvent(perf3gpp());

    expect(events).toEqual([
      { kind: 'file', info: { format: 'ves', fileFormatVersion: '7.1' } },
      {
        kind: 'block',
        block: {
          sender: 'ems-1',
          element: 'ManagedElement=gNB-7',
          measInfo: 'RRC',
          object: 'NRCellCU=1',
          beginMs: BEGIN_MS,
          endMs: END_MS,
          suspect: false,
          values: new Map([
            ['RRC.ConnEstabAtt', 120],
            ['RRC.ConnEstabSucc', 118],
          ]),
        },
      },
      {
        kind: 'block',
        block: {
          sender: 'ems-1',
          element: 'ManagedElement=gNB-7',
          measInfo: '42',
          object: '17',
          beginMs: BEGIN_MS,
          endMs: END_MS,
          suspect: true,
          values: new Map([
            ['1', 7.25],
            ['2', 0.5],
          ]),
        },
      },
    ]);
  });

  it('falls back to sourceName for an empty reportingEntityName and measuredEntityDn, and #n for no measInfoId', () => {
    const event = perf3gpp({ reportingEntityName: '' }, { measuredEntityDn: '' });
    const infos = ((event.perf3gppFields as Json).measDataCollection as Json).measInfoList as Json[];
    delete infos[1]!.measInfoId;

    const [first, second] = blocks(readEvent(event));

    expect([first?.sender, first?.element, second?.measInfo]).toEqual(['gNB-7', 'gNB-7', '#2']);
  });

  it('reads startEpochMicrosec in milliseconds or microseconds as the same begin', () => {
    const inMs = blocks(readEvent(perf3gpp({ startEpochMicrosec: BEGIN_MS, lastEpochMicrosec: END_MS })));
    const inUs = blocks(readEvent(perf3gpp()));

    expect(inMs.map((b) => [b.beginMs, b.endMs])).toEqual([
      [BEGIN_MS, END_MS],
      [BEGIN_MS, END_MS],
    ]);
    expect(inUs.map((b) => [b.beginMs, b.endMs])).toEqual(inMs.map((b) => [b.beginMs, b.endMs]));
  });

  it('ends the period granularityPeriod seconds after the start when lastEpochMicrosec is not a real end', () => {
    // A producer stamping "now" into both epochs: an end 1 ms after the start is no granularity period.
    const stamped = perf3gpp({ startEpochMicrosec: BEGIN_MS, lastEpochMicrosec: BEGIN_MS + 1 });
    const noLast = perf3gpp({ lastEpochMicrosec: undefined }, { granularityPeriod: 300 });

    expect(blocks(readEvent(stamped))[0]).toMatchObject({ beginMs: BEGIN_MS, endMs: END_MS });
    expect(blocks(readEvent(noLast))[0]).toMatchObject({ beginMs: BEGIN_MS, endMs: BEGIN_MS + 300_000 });
  });

  it('reads a granularityPeriod that holds an epoch as the end of the period', () => {
    const event = perf3gpp(
      { startEpochMicrosec: BEGIN_MS, lastEpochMicrosec: BEGIN_MS },
      { granularityPeriod: END_MS },
    );

    expect(blocks(readEvent(event))[0]).toMatchObject({ beginMs: BEGIN_MS, endMs: END_MS });
  });

  it('reads isNull, a missing p and empty or NIL text as missing, never 0, and says which were missing', () => {
    const event = perf3gpp();
    const infos = ((event.perf3gppFields as Json).measDataCollection as Json).measInfoList as Json[];
    infos[0]!.measTypes = { sMeasTypesList: ['a', 'b', 'c', 'd', 'e'] };
    infos[0]!.measValuesList = [
      measValue('cell', [
        { p: 1, isNull: 'true', iValue: 5 },
        { p: 3, sValue: '' },
        { p: 4, sValue: 'NIL' },
      ]),
    ];

    const events = readEvent(event);

    expect(blocks(events)[0]?.values).toEqual(
      new Map([
        ['a', null],
        ['b', null],
        ['c', null],
        ['d', null],
        ['e', null],
      ]),
    );
    expect(skips(events)).toEqual([
      { what: 'value', reason: 'measInfo "RRC", object "cell": no value for measType "b", "e"; read as missing' },
    ]);
  });

  it('keeps integers beyond 2^53 exact as bigint, whether sent as text or as a JSON number', () => {
    const event = perf3gpp();
    const infos = ((event.perf3gppFields as Json).measDataCollection as Json).measInfoList as Json[];
    infos[0]!.measValuesList = [
      measValue('cell', [
        { p: 1, iValue: 'BIG' },
        { p: 2, sValue: '18446744073709551615' },
      ]),
    ];
    // JSON.stringify cannot write a bigint: put the 64-bit literal into the text by hand.
    const text = JSON.stringify({ event }).replace('"BIG"', '9007199254740993');

    expect(blocks(read(text))[0]?.values).toEqual(
      new Map([
        ['RRC.ConnEstabAtt', 9007199254740993n],
        ['RRC.ConnEstabSucc', 18446744073709551615n],
      ]),
    );
  });

  it('reads bin lists as arrays and names the counter and text of a value that is not a number', () => {
    const event = perf3gpp();
    const infos = ((event.perf3gppFields as Json).measDataCollection as Json).measInfoList as Json[];
    infos[0]!.measValuesList = [
      measValue('cell', [
        { p: 1, sValue: '3,0,,1' },
        { p: 2, sValue: 'n.a.' },
      ]),
    ];

    const events = readEvent(event);

    expect(blocks(events)[0]?.values).toEqual(
      new Map<string, unknown>([
        ['RRC.ConnEstabAtt', [3, 0, NaN, 1]],
        ['RRC.ConnEstabSucc', null],
      ]),
    );
    expect(skips(events)).toEqual([
      {
        what: 'value',
        reason: 'measInfo "RRC", object "cell": measType "RRC.ConnEstabSucc" value "n.a." is not a number',
      },
    ]);
  });

  it('skips every block of an event without any time, saying why', () => {
    const event = perf3gpp({ startEpochMicrosec: undefined, lastEpochMicrosec: undefined });

    const events = readEvent(event);

    expect(events.slice(1)).toEqual([
      {
        kind: 'skip',
        skip: {
          what: 'block',
          reason: 'measInfo "RRC", object "NRCellCU=1": no usable period: startEpochMicrosec is missing',
        },
      },
      {
        kind: 'skip',
        skip: { what: 'block', reason: 'measInfo "42", object "17": no usable period: startEpochMicrosec is missing' },
      },
    ]);
  });

  it('tolerates a header without eventName, version and sequence, and a BOM with blank lines', () => {
    const event = perf3gpp({ eventName: undefined, version: undefined, sequence: undefined });

    const events = read(`\uFEFF\n  ${JSON.stringify({ VESversion: 'v7', event })}\n\n`);

    expect(blocks(events).map((b) => b.measInfo)).toEqual(['RRC', '42']);
  });
});

describe('readVes input shapes', () => {
  it('reads a VES 7 eventList batch, skipping a fault event among the measurement events', () => {
    const text = JSON.stringify({ eventList: [perf3gpp(), fault(), perf3gpp({ sourceName: 'gNB-8' })] });

    const events = read(text);

    expect(blocks(events).map((b) => `${b.sender} ${b.measInfo}`)).toEqual([
      'ems-1 RRC',
      'ems-1 42',
      'ems-1 RRC',
      'ems-1 42',
    ]);
    expect(skips(events)).toEqual([
      { what: 'block', reason: 'event 2: VES event of domain "fault" carries no measurements' },
    ]);
  });

  it('reads a JSON array of {"event": ...} objects', () => {
    const text = JSON.stringify([{ event: perf3gpp() }, { event: perf3gpp({ startEpochMicrosec: END_MS * 1000 }) }]);

    expect(blocks(read(text)).map((b) => b.beginMs)).toEqual([BEGIN_MS, BEGIN_MS, END_MS, END_MS]);
  });

  it('reads JSON Lines, with the line of each skip', () => {
    const lines = [JSON.stringify({ event: fault() }), '', JSON.stringify({ event: perf3gpp() })];

    const events = read(lines.join('\n'));

    expect(blocks(events)).toHaveLength(2);
    expect(skips(events)).toEqual([
      { what: 'block', reason: 'event 1: VES event of domain "fault" carries no measurements', line: 1 },
    ]);
  });

  it('throws PM_MALFORMED with the line number of a broken JSON line', () => {
    const err = failure(`${JSON.stringify({ event: perf3gpp() })}\n{"event": {"commonEventHeader": `);

    expect(err.code).toBe('PM_MALFORMED');
    expect(err.message).toMatch(/^line 2 is not JSON: /);
    expect(err.details).toEqual({ line: 2 });
  });

  it('throws PM_MALFORMED with the parser reason for text that is not JSON', () => {
    const err = failure('{\n  "event": {\n    "commonEventHeader": {,\n');

    expect(err.code).toBe('PM_MALFORMED');
    expect(err.message).toMatch(/^not JSON: .*JSON/);
  });

  it('throws PM_NOT_PM_DATA for a fault event, a batch of heartbeats and JSON that is no VES event', () => {
    const heartbeats = {
      eventList: [{ commonEventHeader: header('heartbeat') }, { commonEventHeader: header('heartbeat') }],
    };
    const query = { result: [], request: { time: '1538478000000' }, result_count: 0 };

    const errors = [{ event: fault() }, heartbeats, query].map((json) => failure(JSON.stringify(json)));

    expect(errors.map((e) => [e.code, e.message])).toEqual([
      ['PM_NOT_PM_DATA', 'VES event of domain "fault" carries no measurements'],
      ['PM_NOT_PM_DATA', 'VES event of domain "heartbeat" carries no measurements'],
      ['PM_NOT_PM_DATA', 'not a VES event: no event.commonEventHeader (top-level keys: result, request, result_count)'],
    ]);
  });
});

describe('readVes measurement domain', () => {
  it('makes VES 7 host metrics blocks: one per cpu and nic, the scalars, and each additionalMeasurements entry', () => {
    const fields = {
      measurementInterval: 300,
      measurementFieldsVersion: '4.0',
      concurrentSessions: 12,
      cpuUsageArray: [
        { cpuIdentifier: 'cpu0', percentUsage: 3.5, cpuIdle: '96.5' },
        { cpuIdentifier: 'cpu1', percentUsage: 1, cpuIdle: 99 },
      ],
      nicPerformanceArray: [
        { nicIdentifier: 'eth0', valuesAreSuspect: 'true', receivedOctetsDelta: 548159, operationalState: 'inService' },
      ],
      requestRate: '2.5',
      additionalMeasurements: [{ name: 'gtp', hashMap: { tunnels: '40', degraded: 'false' } }],
    };

    const events = readEvent(measurement(fields, 'measurement', { lastEpochMicrosec: undefined }));

    const base = { sender: 'ems-1', element: 'gNB-7', beginMs: BEGIN_MS, endMs: BEGIN_MS + 300_000 };
    expect(blocks(events)).toEqual([
      {
        ...base,
        measInfo: 'measurementFields',
        object: '',
        suspect: false,
        values: new Map([
          ['concurrentSessions', 12],
          ['requestRate', 2.5],
        ]),
      },
      {
        ...base,
        measInfo: 'cpuUsageArray',
        object: 'cpuIdentifier=cpu0',
        suspect: false,
        values: new Map([
          ['percentUsage', 3.5],
          ['cpuIdle', 96.5],
        ]),
      },
      {
        ...base,
        measInfo: 'cpuUsageArray',
        object: 'cpuIdentifier=cpu1',
        suspect: false,
        values: new Map([
          ['percentUsage', 1],
          ['cpuIdle', 99],
        ]),
      },
      {
        ...base,
        measInfo: 'nicPerformanceArray',
        object: 'nicIdentifier=eth0',
        suspect: true,
        values: new Map([['receivedOctetsDelta', 548159]]),
      },
      { ...base, measInfo: 'gtp', object: '', suspect: false, values: new Map([['tunnels', 40]]) },
    ]);
    expect(skips(events)).toEqual([
      {
        what: 'value',
        reason:
          'measInfo "nicPerformanceArray", object "nicIdentifier=eth0": ' +
          'field "operationalState" holds "inService", not a number',
      },
      { what: 'value', reason: 'measInfo "gtp", object "": field "degraded" holds "false", not a number' },
    ]);
  });

  it('reads VES 5 measurementsForVfScaling with vNicPerformanceArray, arrayOfFields and the header epochs', () => {
    const fields = {
      measurementInterval: 300,
      measurementsForVfScalingVersion: 2,
      vNicPerformanceArray: [{ vNicIdentifier: 'ens2', receivedTotalPacketsDelta: 7988 }],
      additionalMeasurements: [
        {
          name: 'sctp',
          arrayOfFields: [
            { name: 'assocs', value: '4' },
            { name: 'up', value: '' },
          ],
        },
      ],
    };

    const events = readEvent(measurement(fields, 'measurementsForVfScaling'));

    expect(blocks(events).map((b) => [b.measInfo, b.object, b.beginMs, b.endMs, [...b.values]])).toEqual([
      ['vNicPerformanceArray', 'vNicIdentifier=ens2', BEGIN_MS, END_MS, [['receivedTotalPacketsDelta', 7988]]],
      [
        'sctp',
        '',
        BEGIN_MS,
        END_MS,
        [
          ['assocs', 4],
          ['up', null],
        ],
      ],
    ]);
    expect(skips(events)).toEqual([]);
  });

  it('names an array element by its own Identifier field, or by its position when it has none', () => {
    const fields = {
      processStatsArray: [{ processIdentifier: 'sshd', forkRate: 0.1 }],
      loadArray: [{ shortTerm: 0.5, midTerm: 0.4 }],
    };

    const objects = blocks(readEvent(measurement(fields))).map((b) => `${b.measInfo} ${b.object}`);

    expect(objects).toEqual(['processStatsArray processIdentifier=sshd', 'loadArray #1']);
  });
});
