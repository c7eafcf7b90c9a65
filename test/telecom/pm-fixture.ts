/**
 * PM files written from the 3GPP TS 32.435 / 28.532 formats for tests: small, readable, and with every
 * knob a test needs (the older list encoding, suspect flags, offsets written other ways).
 */

export interface FixtureValue {
  object: string;
  /** One value per measurement type, as written in the file ('' for an empty r, '1,2,3' for an array). */
  values: string[];
  suspect?: boolean;
}

export interface FixtureInfo {
  id?: string;
  jobId?: string;
  types: string[];
  values: FixtureValue[];
}

export interface FixturePeriod {
  /** granPeriod endTime exactly as it should appear in the file. */
  endTime: string;
  durationS?: number;
  infos: FixtureInfo[];
}

export interface FixtureFile {
  /** 32.435 measCollecFile (default) or 28.532 measDataFile. */
  root?: 'measCollecFile' | 'measDataFile';
  /** measType p=… with r p=… (default), or the older measTypes / measResults lists. */
  encoding?: 'r' | 'lists';
  sender?: string;
  /** Managed element local DN; null leaves the element out. */
  element?: string | null;
  beginTime?: string;
  periods: FixturePeriod[];
  /** Text placed before the XML declaration, e.g. a stylesheet processing instruction. */
  prolog?: string;
}

export function pmXml(file: FixtureFile): string {
  const root = file.root ?? 'measCollecFile';
  const v28 = root === 'measDataFile';
  const ns = v28
    ? 'http://www.3gpp.org/ftp/specs/archive/28_series/28.532#measData'
    : 'http://www.3gpp.org/ftp/specs/archive/32_series/32.435#measCollec';
  const sender = file.sender ?? 'SubNetwork=1,ManagedElement=S1';
  const element = file.element === undefined ? sender : file.element;
  const headerTag = v28 ? 'measData' : 'measCollec';
  const begin = file.beginTime ?? file.periods[0]?.endTime ?? '2026-02-02T00:00:00Z';

  const lines = [
    `${file.prolog ?? ''}<?xml version="1.0" encoding="UTF-8"?>`,
    `<${root} xmlns="${ns}">`,
    `  <fileHeader fileFormatVersion="${v28 ? '28.532 V16.0' : '32.435 V10.0'}" vendorName="Test">`,
    `    <fileSender ${v28 ? 'senderName' : 'localDn'}="${sender}"/>`,
    `    <${headerTag} beginTime="${begin}"/>`,
    '  </fileHeader>',
  ];
  for (const period of file.periods) {
    lines.push('  <measData>');
    if (element !== null) lines.push(`    <${v28 ? 'measEntity' : 'managedElement'} localDn="${element}"/>`);
    for (const info of period.infos) lines.push(...measInfo(info, period, file.encoding ?? 'r'));
    lines.push('  </measData>');
  }
  lines.push(
    '  <fileFooter>',
    `    <${headerTag} endTime="${file.periods.at(-1)?.endTime ?? begin}"/>`,
    '  </fileFooter>',
  );
  lines.push(`</${root}>`, '');
  return lines.join('\n');
}

function measInfo(info: FixtureInfo, period: FixturePeriod, encoding: 'r' | 'lists'): string[] {
  const lines = [info.id === undefined ? '    <measInfo>' : `    <measInfo measInfoId="${info.id}">`];
  if (info.jobId !== undefined) lines.push(`      <job jobId="${info.jobId}"/>`);
  lines.push(`      <granPeriod duration="PT${period.durationS ?? 3600}S" endTime="${period.endTime}"/>`);
  if (encoding === 'lists') lines.push(`      <measTypes>${info.types.join(' ')}</measTypes>`);
  else info.types.forEach((t, i) => lines.push(`      <measType p="${i + 1}">${t}</measType>`));
  for (const value of info.values) {
    lines.push(`      <measValue measObjLdn="${value.object}">`);
    if (encoding === 'lists') lines.push(`        <measResults>${value.values.join(' ')}</measResults>`);
    else value.values.forEach((v, i) => lines.push(`        <r p="${i + 1}">${v}</r>`));
    if (value.suspect !== undefined) lines.push(`        <suspect>${value.suspect}</suspect>`);
    lines.push('      </measValue>');
  }
  lines.push('    </measInfo>');
  return lines;
}

/** Hourly periods ending at start + (i + 1) h, as ISO times in UTC. */
export function hourEnd(startMs: number, hour: number): string {
  return new Date(startMs + (hour + 1) * 3_600_000).toISOString().replace('.000Z', 'Z');
}

/** A 32.432 file name for an hourly period: A20260202.0000+0000-0100+0000_<suffix>.xml */
export function hourFileName(startMs: number, hour: number, suffix = 'S1'): string {
  const at = (ms: number) => {
    const iso = new Date(ms).toISOString();
    return { date: iso.slice(0, 10).replace(/-/g, ''), time: iso.slice(11, 16).replace(':', '') };
  };
  const begin = at(startMs + hour * 3_600_000);
  const end = at(startMs + (hour + 1) * 3_600_000);
  return `A${begin.date}.${begin.time}+0000-${end.time}+0000_${suffix}.xml`;
}

export interface VesFixture {
  /** measuredEntityDn of the collection. */
  element?: string;
  beginMs: number;
  durationS: number;
  infos: { id: string; types: string[]; values: FixtureValue[] }[];
}

/** The same measurements as a VES 7.x perf3gpp event (JSON), values written as sValue strings. */
export function pmVes(file: VesFixture): string {
  const endMs = file.beginMs + file.durationS * 1000;
  const event = {
    commonEventHeader: {
      domain: 'perf3gpp',
      eventId: `pm-${file.beginMs}`,
      eventName: 'perf3gpp_Test_pmMeasResult',
      sequence: 0,
      priority: 'Normal',
      version: '4.1',
      vesEventListenerVersion: '7.2',
      sourceName: 'S1',
      reportingEntityName: 'ems-1',
      startEpochMicrosec: file.beginMs * 1000,
      lastEpochMicrosec: endMs * 1000,
      timeZoneOffset: 'UTC+00:00',
    },
    perf3gppFields: {
      perf3gppFieldsVersion: '1.0',
      measDataCollection: {
        granularityPeriod: file.durationS,
        measuredEntityDn: file.element ?? 'SubNetwork=1,ManagedElement=S1',
        measInfoList: file.infos.map((info) => ({
          measInfoId: { sMeasInfoId: info.id },
          measTypes: { sMeasTypesList: info.types },
          measValuesList: info.values.map((v) => ({
            measObjInstId: v.object,
            suspectFlag: v.suspect ? 'true' : 'false',
            measResults: v.values.map((value, i) => ({ p: i + 1, sValue: value })),
          })),
        })),
      },
    },
  };
  return JSON.stringify({ event }, null, 2);
}
