import { createReadStream } from 'node:fs';
import { open } from 'node:fs/promises';
import { basename } from 'node:path';
import { createGunzip } from 'node:zlib';
import { CellwatchError } from '../../errors.js';
import type { PmEvent } from '../../telecom/pm-block.js';
import { readVes } from '../../telecom/pm-ves.js';
import { readPmXml } from '../../telecom/pm-xml.js';

export type PmFormat = 'xml' | 'ves';

/** Files are read in pieces of this size: the XML reader yields between pieces, so the event loop keeps turning. */
const CHUNK_BYTES = 64 * 1024;

/** A VES file is parsed whole; past this size it is not a VES event file but something else. */
const MAX_VES_BYTES = 64 * 1024 * 1024;

const GZIP_MAGIC = [0x1f, 0x8b];

/**
 * Open a performance file and read it as PM events, whatever its wrapping: gzip is told by its magic bytes
 * (not the name: collectors rename), the format by the first character of the content unless configured.
 */
export async function readPmFile(
  path: string,
  format: PmFormat | 'auto' = 'auto',
): Promise<AsyncIterable<PmEvent> | Iterable<PmEvent>> {
  const head = await readHead(path);
  const gzip = head[0] === GZIP_MAGIC[0] && head[1] === GZIP_MAGIC[1];
  const fileName = basename(path).replace(/\.gz$/i, '');
  const chunks = () => {
    const stream = createReadStream(path, { highWaterMark: CHUNK_BYTES });
    return gzip ? stream.pipe(createGunzip({ chunkSize: CHUNK_BYTES })) : stream;
  };

  const kind = format === 'auto' ? await sniff(chunks()) : format;
  if (kind === 'xml') return readPmXml(guarded(chunks(), path), { fileName });
  const text = await readAll(guarded(chunks(), path));
  return readVes(text, { fileName });
}

async function readHead(path: string): Promise<Buffer> {
  const handle = await open(path, 'r').catch((err: unknown) => {
    throw new CellwatchError('SOURCE_READ', `cannot open ${path}: ${(err as Error).message}`, { path });
  });
  try {
    const buffer = Buffer.alloc(2);
    const { bytesRead } = await handle.read(buffer, 0, 2, 0);
    return buffer.subarray(0, bytesRead);
  } finally {
    await handle.close();
  }
}

/** XML starts with '<', VES JSON with '{' or '['; a BOM and white space may come first. */
async function sniff(stream: AsyncIterable<Buffer>): Promise<PmFormat> {
  let seen = '';
  try {
    for await (const chunk of guarded(stream, '')) {
      seen += chunk.toString('utf8', 0, Math.min(chunk.length, 4096));
      const first = seen.replace(/^\uFEFF/, '').trimStart()[0];
      if (first === '<') return 'xml';
      if (first === '{' || first === '[') return 'ves';
      if (first !== undefined || seen.length >= 4096) break;
    }
  } finally {
    (stream as unknown as { destroy?: () => void }).destroy?.();
  }
  if (seen.trim() === '') throw new CellwatchError('PM_MALFORMED', 'empty file');
  throw new CellwatchError('PM_NOT_PM_DATA', 'neither XML nor JSON: the content starts with neither "<" nor "{"');
}

/** A gzip stream that is cut short or not gzip at all fails as a malformed file, not as a crash. */
async function* guarded(stream: AsyncIterable<Buffer>, path: string): AsyncGenerator<Buffer> {
  try {
    for await (const chunk of stream) yield chunk;
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? '';
    if (code.startsWith('Z_') || code === 'ERR_STREAM_PREMATURE_CLOSE') {
      throw new CellwatchError('PM_MALFORMED', `gzip data is damaged or cut short: ${(err as Error).message}`, {
        path,
      });
    }
    throw new CellwatchError('SOURCE_READ', `cannot read ${path}: ${(err as Error).message}`, { path });
  }
}

async function readAll(stream: AsyncIterable<Buffer>): Promise<string> {
  const parts: Buffer[] = [];
  let bytes = 0;
  for await (const chunk of stream) {
    bytes += chunk.length;
    if (bytes > MAX_VES_BYTES) {
      throw new CellwatchError('PM_NOT_PM_DATA', `larger than ${MAX_VES_BYTES / 1024 / 1024} MiB: not a VES file`);
    }
    parts.push(chunk);
  }
  return Buffer.concat(parts).toString('utf8');
}
