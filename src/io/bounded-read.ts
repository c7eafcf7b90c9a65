import { constants } from 'node:fs';
import { open } from 'node:fs/promises';

/**
 * Reads a file named in the configuration (a secret, a TLS file, a key, the configuration itself), refusing
 * what is not a regular file or is larger than maxBytes. A path such as /dev/zero or a FIFO would otherwise
 * be read until memory runs out, or forever. The error carries an errno-style code like fs errors do.
 */
export async function readBoundedFile(path: string, maxBytes: number): Promise<Buffer> {
  // Non-blocking, so a FIFO with no writer is refused below instead of blocking the open for ever.
  const handle = await open(path, constants.O_RDONLY | constants.O_NONBLOCK);
  try {
    const info = await handle.stat();
    if (!info.isFile()) throw refusal('ENOTFILE', `${path} is not a regular file`);
    if (info.size > maxBytes) throw refusal('EFBIG', `${path} is larger than ${maxBytes} bytes`);
    return await handle.readFile();
  } finally {
    await handle.close();
  }
}

function refusal(code: string, message: string): NodeJS.ErrnoException {
  return Object.assign(new Error(message), { code });
}
