import { setImmediate as turn } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { CellwatchError } from '../../src/errors.js';
import type { PmBlock, PmEvent, PmFileInfo, PmSkip, PmValue } from '../../src/telecom/pm-block.js';
import { readPmXml } from '../../src/telecom/pm-xml.js';

// Fixtures are written here from TS 32.435 / TS 28.532, so the suite needs no file outside the repository.
const SENDER = 'SubNetwork=1,ManagedElement=RNC-1';

const collecFile = (measData: string, header = collecHeader()): string => `<?xml version="1.0" encoding="UTF-8"?>
<measCollecFile xmlns="http://www.3gpp.org/ftp/specs/archive/32_series/32.435#measCollec">
  ${header}
  ${measData}
  <fileFooter><measCollec endTime="2018-10-02T12:15:00+02:00"/></fileFooter>
</measCollecFile>
`;

const collecHeader = (sender = `<fileSender localDn="${SENDER}" elementType="RNC"/>`): string =>
  `<fileHeader fileFormatVersion="32.435 V10.0" vendorName="Company NN" dnPrefix="DC=a1.companyNN.com">
    ${sender}
    <measCollec beginTime="2018-10-02T12:00:00+02:00"/>
  </fileHeader>`;

const measData = (measInfos: string, element = '<managedElement localDn="ManagedElement=NB-1" swVersion="r1"/>') =>
  `<measData>
    ${element}
    ${measInfos}
  </measData>`;

const GRAN = '<granPeriod duration="PT900S" endTime="2018-10-02T12:15:00+02:00"/>';
const measInfo = (inner: string, attributes = 'measInfoId="RRC"', gran = GRAN): string =>
  `<measInfo ${attributes}>
      <job jobId="77"/>
      ${gran}
      <repPeriod duration="PT900S"/>
      ${inner}
    </measInfo>`;

const TYPE_NAMES = ['attConn', 'succConn', 'dlMbps'];
const TYPES = '<measType p="1">attConn</measType><measType p="2">succConn</measType><measType p="3">dlMbps</measType>';
const rValue = (object: string, r1: string, r2: string, r3: string, suspect = ''): string =>
  `<measValue measObjLdn="${object}">
        <r p="1">${r1}</r>
        <r p="2">${r2}</r>
        <r p="3">${r3}</r>
        ${suspect}
      </measValue>`;

const BEGIN = Date.UTC(2018, 9, 2, 10, 0);
const END = Date.UTC(2018, 9, 2, 10, 15);

/** The bytes of a fixture in chunks of a given size, each after a turn of the event loop, as a file read gives. */
async function* chunked(data: string | Buffer, size: number, counter?: { read: number }): AsyncGenerator<Buffer> {
  const bytes = typeof data === 'string' ? Buffer.from(data, 'utf8') : data;
  for (let i = 0; i < bytes.length; i += size) {
    await turn();
    if (counter) counter.read += 1;
    yield bytes.subarray(i, i + size);
  }
}

interface Read {
  events: PmEvent[];
  files: PmFileInfo[];
  blocks: PmBlock[];
  skips: PmSkip[];
}

async function read(xml: string | Buffer, options: { chunkSize?: number; fileName?: string } = {}): Promise<Read> {
  const events: PmEvent[] = [];
  const reading = readPmXml(chunked(xml, options.chunkSize ?? 7), { fileName: options.fileName });
  for await (const event of reading) events.push(event);
  return {
    events,
    files: events.flatMap((e) => (e.kind === 'file' ? [e.info] : [])),
    blocks: events.flatMap((e) => (e.kind === 'block' ? [e.block] : [])),
    skips: events.flatMap((e) => (e.kind === 'skip' ? [e.skip] : [])),
  };
}

interface Failure {
  error: { code: string; message: string; details: Readonly<Record<string, unknown>> };
  before: PmEvent[];
}

/** The coded error a read ends with (code, message, details), and the events yielded before it. */
async function failure(xml: string | Buffer): Promise<Failure> {
  const before: PmEvent[] = [];
  try {
    for await (const event of readPmXml(chunked(xml, 7))) before.push(event);
  } catch (err) {
    if (!(err instanceof CellwatchError)) throw err;
    return { error: { code: err.code, message: err.message, details: err.details }, before };
  }
  throw new Error('expected the read to fail');
}

/** The 1-based line of the first occurrence of a needle in a fixture. */
const lineOf = (xml: string, needle: string): number => xml.slice(0, xml.indexOf(needle)).split('\n').length;
/** A value skip in measInfo "RRC", worded as the reader words it. */
const valueSkip = (object: string, reason: string, line: number): PmSkip => ({
  what: 'value',
  reason: `measInfo "RRC", object "${object}": ${reason}`,
  line,
});
/** A block's values as an object, for short exact assertions; the Map's order is asserted on its own. */
const valuesOf = (block: PmBlock | undefined) => Object.fromEntries(block?.values ?? []);

describe('readPmXml: the two encodings and the two formats', () => {
  it('reads a 32.435 measCollecFile into a file event, then one block per measValue', async () => {
    const xml = collecFile(measData(measInfo(`${TYPES}${rValue('Cell=1', '10', '9', '1.5')}`)));
    const { events, blocks } = await read(xml);

    expect(events).toEqual([
      {
        kind: 'file',
        info: {
          format: 'measCollecFile',
          vendor: 'Company NN',
          fileFormatVersion: '32.435 V10.0',
          dnPrefix: 'DC=a1.companyNN.com',
        },
      },
      {
        kind: 'block',
        block: {
          sender: SENDER,
          element: 'ManagedElement=NB-1',
          measInfo: 'RRC',
          object: 'Cell=1',
          beginMs: BEGIN,
          endMs: END,
          suspect: false,
          values: new Map<string, PmValue>([
            ['attConn', 10],
            ['succConn', 9],
            ['dlMbps', 1.5],
          ]),
        },
      },
    ]);
    expect([...(blocks[0]?.values.keys() ?? [])]).toEqual(['attConn', 'succConn', 'dlMbps']);
  });

  it('gives identical blocks for measType/r and the older measTypes/measResults', async () => {
    const suspect = '<suspect>true</suspect>';
    const rStyle = collecFile(
      measData(measInfo(`${TYPES}${rValue('Cell=1', '10', 'NIL', '2.5', suspect)}${rValue('Cell=2', '', '7', '3')}`)),
    );
    const listStyle = collecFile(
      measData(
        measInfo(`<measTypes>attConn succConn
          dlMbps</measTypes>
        <measValue measObjLdn="Cell=1"><measResults>10 NIL 2.5</measResults>${suspect}</measValue>
        <measValue measObjLdn="Cell=2"><measResults> - 7 3 </measResults></measValue>`),
      ),
    );

    const fromR = await read(rStyle);
    const fromList = await read(listStyle);
    expect(fromList.blocks).toEqual(fromR.blocks);
    expect(fromList.skips).toEqual([]);
    expect(fromR.blocks.map((b) => [b.object, b.suspect, valuesOf(b)])).toEqual([
      ['Cell=1', true, { attConn: 10, succConn: null, dlMbps: 2.5 }],
      ['Cell=2', false, { attConn: null, succConn: 7, dlMbps: 3 }],
    ]);
    expect(fromList.blocks.map((b) => [...b.values.keys()])).toEqual([TYPE_NAMES, TYPE_NAMES]);
  });

  it('reads a 28.532 measDataFile: senderName, measEntity, and the header measData is not data', async () => {
    const xml = `<?xml version="1.0" encoding="UTF-8"?>
<measDataFile xmlns="http://www.3gpp.org/ftp/specs/archive/28_series/28.532#measData"
    xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">
  <fileHeader fileFormatVersion="28.532 V7.0" vendorName="Company NN">
    <fileSender senderName="${SENDER}"/>
    <measData beginTime="2018-10-02T12:00:00+02:00"/>
  </fileHeader>
  <measData>
    <measEntity localDn="ManagedElement=gNB-7" userLabel="gNB Telecomville"/>
    ${measInfo(`${TYPES}${rValue('NRCellDU=1', '1', '2', '3')}`)}
  </measData>
  <fileFooter><measData endTime="2018-10-02T12:15:00+02:00"/></fileFooter>
</measDataFile>`;
    const { files, blocks } = await read(xml);

    expect(files).toEqual([{ format: 'measDataFile', vendor: 'Company NN', fileFormatVersion: '28.532 V7.0' }]);
    expect(blocks.map((b) => [b.sender, b.element, b.measInfo, b.object, b.beginMs, b.endMs])).toEqual([
      [SENDER, 'ManagedElement=gNB-7', 'RRC', 'NRCellDU=1', BEGIN, END],
    ]);
  });

  it('reads several measData and measInfo blocks with their own elements, names and periods', async () => {
    const hourly = '<granPeriod duration="PT1H" endTime="2018-10-02T13:00:00Z"/>';
    const xml = collecFile(
      measData(measInfo(`${TYPES}${rValue('Cell=1', '1', '2', '3')}`)) +
        measData(
          measInfo(`${TYPES}${rValue('Cell=2', '4', '5', '6')}`, '', hourly) +
            measInfo(`${TYPES}${rValue('Cell=3', '7', '8', '9')}`, 'measInfoId=""').replace('<job jobId="77"/>', ''),
          '<managedElement localDn="ManagedElement=NB-2"/>',
        ),
    );
    const { files, blocks } = await read(xml);

    expect(files).toHaveLength(1);
    expect(blocks.map((b) => [b.element, b.measInfo, b.object, b.beginMs, b.endMs])).toEqual([
      ['ManagedElement=NB-1', 'RRC', 'Cell=1', BEGIN, END],
      ['ManagedElement=NB-2', 'job:77', 'Cell=2', Date.UTC(2018, 9, 2, 12), Date.UTC(2018, 9, 2, 13)],
      ['ManagedElement=NB-2', '#3', 'Cell=3', BEGIN, END],
    ]);
  });

  it('uses the sender as the element when measData names none, and empty strings when nothing is named', async () => {
    const block = measInfo(`${TYPES}<measValue><r p="1">1</r><r p="2">2</r><r p="3">3</r></measValue>`);
    const withSender = await read(collecFile(measData(block, '')));
    const withoutSender = await read(collecFile(measData(block, '<managedElement userLabel="x"/>'), collecHeader('')));

    expect(withSender.blocks.map((b) => [b.sender, b.element, b.object])).toEqual([[SENDER, SENDER, '']]);
    expect(withoutSender.blocks.map((b) => [b.sender, b.element, b.object])).toEqual([['', '', '']]);
  });

  it('reads suspect true in any case and with spaces; anything else and no flag are false', async () => {
    const values = [
      rValue('Cell=1', '1', '2', '3', '<suspect> TRUE </suspect>'),
      rValue('Cell=2', '1', '2', '3', '<suspect>false</suspect>'),
      rValue('Cell=3', '1', '2', '3', '<suspect>yes</suspect>'),
      rValue('Cell=4', '1', '2', '3'),
    ];
    const { blocks } = await read(collecFile(measData(measInfo(`${TYPES}${values.join('')}`))));

    expect(blocks.map((b) => [b.object, b.suspect])).toEqual([
      ['Cell=1', true],
      ['Cell=2', false],
      ['Cell=3', false],
      ['Cell=4', false],
    ]);
  });
});

describe('readPmXml: values', () => {
  const typesOf = (names: string[]) => names.map((n, i) => `<measType p="${i + 1}">${n}</measType>`).join('');
  const valueOf = (texts: string[]) =>
    `<measValue measObjLdn="Cell=1">${texts.map((t, i) => `<r p="${i + 1}">${t}</r>`).join('')}</measValue>`;
  const one = (texts: string[], names = texts.map((_, i) => `m${i}`)) =>
    collecFile(measData(measInfo(`${typesOf(names)}\n${valueOf(texts)}`)));

  it('reads every spelling of a missing value as null, never 0, without a skip', async () => {
    const texts = ['', ' ', 'NIL', 'nil', 'null', 'NULL', '-', 'N/A'];
    const { blocks, skips } = await read(one(texts));

    expect([...(blocks[0]?.values.values() ?? [])]).toEqual(texts.map(() => null));
    expect(skips).toEqual([]);
  });

  it('reads integers, decimals and exponents as numbers, and integers past 2^53 exactly as bigint', async () => {
    const texts = [' 42 ', '-7', '1.5', '-3e2', '.25', '9007199254740991', '9007199254740993', '18446744073709551615'];
    const { blocks, skips } = await read(one(texts));

    expect([...(blocks[0]?.values.values() ?? [])]).toEqual([
      42,
      -7,
      1.5,
      -300,
      0.25,
      9007199254740991,
      9007199254740993n,
      18446744073709551615n,
    ]);
    expect(skips).toEqual([]);
  });

  it('reads a comma-separated PDF value as an array, a missing bin as NaN', async () => {
    const { blocks } = await read(one(['86,87,2', '1, ,NIL,4,'], ['pdf', 'gaps']));

    expect(valuesOf(blocks[0])).toEqual({ pdf: [86, 87, 2], gaps: [1, NaN, NaN, 4, NaN] });
  });

  it('reads a value that is not a number as null and says which type, text and line', async () => {
    const xml = one(['1', 'abc', '0x1F', '1,x'], ['ok', 'word', 'hex', 'bin']);
    const { blocks, skips } = await read(xml);

    expect(valuesOf(blocks[0])).toEqual({ ok: 1, word: null, hex: null, bin: null });
    const line = lineOf(xml, '<measValue');
    expect(skips).toEqual([
      valueSkip('Cell=1', 'measType "word" value "abc" is not a number', line),
      valueSkip('Cell=1', 'measType "hex" value "0x1F" is not a number', line),
      valueSkip('Cell=1', 'measType "bin" value "1,x" is not a number', line),
    ]);
  });

  it('skips an r whose p matches no measType, and reads an absent r as missing', async () => {
    const xml = collecFile(
      measData(
        measInfo(`${TYPES}
      <measValue measObjLdn="Cell=1">
        <r p="1">1</r>
        <r p="9">99</r>
        <r p="2">2</r>
      </measValue>`),
      ),
    );
    const { blocks, skips } = await read(xml);

    expect(valuesOf(blocks[0])).toEqual({ attConn: 1, succConn: 2, dlMbps: null });
    expect(skips).toEqual([
      valueSkip('Cell=1', 'r p="9" matches no measType; "99" is dropped', lineOf(xml, '<r p="9">')),
      valueSkip('Cell=1', 'no value for measType "dlMbps"; read as missing', lineOf(xml, '<measValue')),
    ]);
  });

  it('skips measResults beyond the measTypes, and reads too few as missing', async () => {
    const xml = collecFile(
      measData(
        measInfo(`<measTypes>a b</measTypes>
      <measValue measObjLdn="Cell=1"><measResults>1 2 3</measResults></measValue>
      <measValue measObjLdn="Cell=2"><measResults>4</measResults></measValue>`),
      ),
    );
    const { blocks, skips } = await read(xml);

    expect(blocks.map(valuesOf)).toEqual([
      { a: 1, b: 2 },
      { a: 4, b: null },
    ]);
    expect(skips).toEqual([
      valueSkip('Cell=1', 'measResults value 3 matches no measType; "3" is dropped', lineOf(xml, '<measResults>1 2 3')),
      valueSkip('Cell=2', 'no value for measType "b"; read as missing', lineOf(xml, '"Cell=2"')),
    ]);
  });
});

describe('readPmXml: periods', () => {
  const withEnd = (endTime: string, duration = 'PT900S') =>
    collecFile(
      measData(
        measInfo(`${TYPES}${rValue('Cell=1', '1', '2', '3')}`, 'measInfoId="RRC"', granPeriod(endTime, duration)),
      ),
    );
  const granPeriod = (endTime: string, duration: string) => `<granPeriod duration="${duration}" endTime="${endTime}"/>`;
  const periodOf = async (xml: string, fileName?: string) => {
    const { blocks } = await read(xml, { fileName });
    return blocks.map((b) => [b.beginMs, b.endMs]);
  };

  it('reads every offset spelling of endTime into exact UTC milliseconds', async () => {
    const expected = [[BEGIN, END]];
    expect(await periodOf(withEnd('2018-10-02T12:15:00+02:00'))).toEqual(expected);
    expect(await periodOf(withEnd('2018-10-02T11:15:00+0100'))).toEqual(expected);
    expect(await periodOf(withEnd('2018-10-02T11:15:00_0100'))).toEqual(expected);
    expect(await periodOf(withEnd('2018-10-02T10:15:00Z'))).toEqual(expected);
  });

  it('tells apart the two 02:00 hours of the day summer time ends', async () => {
    const summer = await periodOf(withEnd('2023-10-29T02:15:00+02:00'));
    const winter = await periodOf(withEnd('2023-10-29T02:15:00+01:00'));

    expect(summer).toEqual([[Date.UTC(2023, 9, 29, 0, 0), Date.UTC(2023, 9, 29, 0, 15)]]);
    expect(winter).toEqual([[Date.UTC(2023, 9, 29, 1, 0), Date.UTC(2023, 9, 29, 1, 15)]]);
  });

  it('takes the period from the content even when the file name states another', async () => {
    const xml = withEnd('2018-10-02T12:15:00+02:00');
    expect(await periodOf(xml, 'A20200101.0000+0000-0015+0000_x.xml')).toEqual([[BEGIN, END]]);
  });

  it('falls back to the file name when the granPeriod is unusable', async () => {
    const fileName = 'A20181002.1200+0200-1215+0200_NB-1.xml';
    expect(await periodOf(withEnd('2018-10-02T12:15:00+02:00', 'some duration'), fileName)).toEqual([[BEGIN, END]]);
    expect(await periodOf(withEnd('not a time'), fileName)).toEqual([[BEGIN, END]]);
  });

  it('skips every measValue of a measInfo without a usable period, one skip per block', async () => {
    const xml = collecFile(
      measData(
        measInfo(
          `${TYPES}${rValue('Cell=1', '1', '2', '3')}${rValue('Cell=2', '1', '2', '3')}`,
          'measInfoId="x"',
          granPeriod('2018-10-02T12:15:00Z', 'some duration'),
        ) + measInfo(`${TYPES}${rValue('Cell=3', '1', '2', '3')}`, 'measInfoId="y"', '<granPeriod duration="PT1H"/>'),
      ),
    );
    const { blocks, skips } = await read(xml, { fileName: 'ABigFile.xml' });
    const noName = await read(xml);

    expect(blocks).toEqual([]);
    const reasonX =
      'measInfo "x": granPeriod duration "some duration" is not an ISO 8601 duration and the file name has no period';
    expect(skips).toEqual([
      { what: 'block', reason: reasonX, line: lineOf(xml, '"Cell=1"') },
      { what: 'block', reason: reasonX, line: lineOf(xml, '"Cell=2"') },
      {
        what: 'block',
        reason: 'measInfo "y": granPeriod has no endTime and the file name has no period',
        line: lineOf(xml, '"Cell=3"'),
      },
    ]);
    expect(noName.skips.map((s) => s.reason)[2]).toBe(
      'measInfo "y": granPeriod has no endTime and no file name was given',
    );
  });
});

describe('readPmXml: what real files do', () => {
  const body = measData(measInfo(`${TYPES}${rValue('Cell=1', '1', '2', '3')}`));

  it('tolerates a BOM, blank lines and a stylesheet instruction before the XML declaration', async () => {
    const xml = `\uFEFF\n<?xml-stylesheet type="text/xsl" href="MeasDataCollection.xsl"?>\n${collecFile(body)}`;
    const { files, blocks } = await read(xml);

    expect(files.map((f) => f.format)).toEqual(['measCollecFile']);
    expect(blocks.map((b) => b.object)).toEqual(['Cell=1']);
  });

  it('still refuses other faults after tolerating the stylesheet instruction', async () => {
    const xml = `<?xml-stylesheet href="x.xsl"?>\n${collecFile(body).replace('</measData>', '</measDatum>')}`;
    const { error } = await failure(xml);

    const line = lineOf(xml, '</measDatum>');
    const message = `not well-formed XML at line ${line}, column 14: unexpected close tag.`;
    expect(error).toEqual({ code: 'PM_MALFORMED', message, details: { line } });
  });

  it('reads elements with a namespace prefix, or without any namespace', async () => {
    const plain = await read(collecFile(body));
    const prefixed = collecFile(body)
      .replace(/<(\/?)(?=[a-zA-Z])/g, '<$1pm:')
      .replace('xmlns=', 'xmlns:pm=');
    const bare = collecFile(body).replace(/ xmlns="[^"]*"/, '');

    expect((await read(prefixed)).events).toEqual(plain.events);
    expect((await read(bare)).events).toEqual(plain.events);
  });

  it('ignores comments, CDATA around nothing of interest, unknown elements and attributes', async () => {
    const xml = collecFile(
      measData(
        measInfo(`<!-- counters -->${TYPES}
      <measValue measObjLdn="Cell=1" vendor:flag="x" xmlns:vendor="urn:vendor">
        <vendor:ext><r p="1">999</r><measResults>5 5 5</measResults></vendor:ext>
        <r p="1"><![CDATA[1]]></r><r p="2">2</r><r p="3">3</r>
      </measValue><vendor:summary total="6"/>`),
      ),
    );
    const { blocks, skips } = await read(xml);

    expect(blocks.map(valuesOf)).toEqual([{ attConn: 1, succConn: 2, dlMbps: 3 }]);
    expect(skips).toEqual([]);
  });

  it('gives the same events whatever the chunk size, with multi-byte characters split across chunks', async () => {
    const xml = collecFile(measData(measInfo(`${TYPES}${rValue('Cell=Göteborg-Ü€😀', '1', '2', '3')}`)));
    const whole = await read(xml, { chunkSize: 1 << 20 });

    for (const chunkSize of [1, 2, 3, 7, 64]) expect((await read(xml, { chunkSize })).events).toEqual(whole.events);
    expect(whole.blocks.map((b) => b.object)).toEqual(['Cell=Göteborg-Ü€😀']);
  });

  it('announces the file before any block even when the header is missing, and for a file without data', async () => {
    const noHeader = await read(collecFile(body, ''));
    const noData = await read(collecFile(''));

    expect(noHeader.events.map((e) => e.kind)).toEqual(['file', 'block']);
    expect(noHeader.files).toEqual([{ format: 'measCollecFile' }]);
    expect(noData.events.map((e) => e.kind)).toEqual(['file']);
  });
});

describe('readPmXml: refusals', () => {
  it('refuses a DOCTYPE, the door to entity expansion attacks', async () => {
    const xml = `<?xml version="1.0"?>\n<!DOCTYPE measCollecFile [<!ENTITY lol "lol">]>\n<measCollecFile/>`;
    const { error, before } = await failure(xml);

    expect(error).toEqual({ code: 'PM_MALFORMED', message: 'DOCTYPE not allowed (line 2)', details: { line: 2 } });
    expect(before).toEqual([]);
  });

  it('refuses an XSD or an HTML page as not PM data, before reading the rest', async () => {
    const xsd = `<?xml version="1.0"?>\n<xs:schema xmlns:xs="http://www.w3.org/2001/XMLSchema">${' '.repeat(1e6)}`;
    const counter = { read: 0 };
    const first = readPmXml(chunked(xsd, 64 * 1024, counter)).next();

    const message = 'root element <schema> is not measCollecFile or measDataFile';
    await expect(first).rejects.toMatchObject({ code: 'PM_NOT_PM_DATA', message, details: { root: 'schema' } });
    expect(counter.read).toBe(1);

    const html = await failure('<!DOCTYPE html>\n<html><head><title>502 Bad Gateway</title></head></html>');
    expect([html.error.code, html.error.details]).toEqual(['PM_NOT_PM_DATA', { root: 'html' }]);
  });

  it('refuses a file cut short, after the blocks it could read', async () => {
    const xml = collecFile(
      measData(measInfo(`${TYPES}${rValue('Cell=1', '1', '2', '3')}${rValue('Cell=2', '4', '5', '6')}`)),
    );
    const cut = xml.slice(0, xml.indexOf('"Cell=2"'));
    const { error, before } = await failure(cut);

    const line = cut.split('\n').length;
    const column = cut.length - cut.lastIndexOf('\n') - 1;
    const where = `line ${line}, column ${column}`;
    const message = `the file ends before the root element closes at ${where}: unclosed tag: measInfo`;
    expect(error).toEqual({ code: 'PM_MALFORMED', message, details: { line } });
    expect(before.map((e) => e.kind)).toEqual(['file', 'block']);
  });

  it('refuses XML that is not well-formed, with the line and column', async () => {
    const { error } = await failure('<measCollecFile>\n  <fileHeader a="1" a="2"/>\n</measCollecFile>');

    const message = 'not well-formed XML at line 2, column 27: duplicate attribute: a.';
    expect(error).toEqual({ code: 'PM_MALFORMED', message, details: { line: 2 } });
  });

  it('refuses an empty file, and one of only blanks', async () => {
    for (const text of ['', '\uFEFF \n\t']) {
      const { error } = await failure(text);
      expect([error.code, error.message]).toEqual(['PM_MALFORMED', 'empty file']);
    }
  });

  it('refuses bytes that are not UTF-8', async () => {
    const bytes = Buffer.concat([Buffer.from('<measCollecFile>\n<fileHeader vendorName="'), Buffer.from([0xff, 0xfe])]);
    const { error } = await failure(bytes);

    expect([error.code, error.message]).toEqual(['PM_MALFORMED', 'the file is not UTF-8 text (near line 2)']);
  });
});

describe('readPmXml: streaming', () => {
  it('reads 5,000 measValues of 8 counters in 64 KiB chunks, yielding blocks as the chunks come', async () => {
    const types = Array.from({ length: 8 }, (_, i) => `<measType p="${i + 1}">c${i}</measType>`).join('');
    const values = Array.from({ length: 5000 }, (_, v) => {
      const rs = Array.from({ length: 8 }, (_, i) => `<r p="${i + 1}">${v * 8 + i}</r>`).join('');
      return `<measValue measObjLdn="Cell=${v}">${rs}</measValue>\n`;
    });
    const xml = Buffer.from(collecFile(measData(measInfo(`${types}\n${values.join('')}`))));
    const counter = { read: 0 };

    const readAtBlock: number[] = [];
    let last: PmBlock | undefined;
    for await (const event of readPmXml(chunked(xml, 64 * 1024, counter))) {
      if (event.kind !== 'block') continue;
      readAtBlock.push(counter.read);
      last = event.block;
    }

    const chunks = Math.ceil(xml.length / (64 * 1024));
    expect(readAtBlock).toHaveLength(5000);
    expect(readAtBlock[0]).toBe(1);
    expect(new Set(readAtBlock).size).toBe(chunks);
    expect(last?.object).toBe('Cell=4999');
    expect(last?.values.get('c7')).toBe(4999 * 8 + 7);
  });
});
