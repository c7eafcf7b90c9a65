import { readFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { ERROR_CODES } from '../src/errors.js';

describe('error codes', () => {
  it('are all documented in docs/errors.md, with the same meaning, and nothing else is', async () => {
    const doc = await readFile(new URL('../docs/errors.md', import.meta.url), 'utf8');
    const rows = [...doc.matchAll(/^\| `([A-Z_]+)` \| (.+?) \|$/gm)].map((m) => [m[1], m[2]]);
    expect(rows.map(([code]) => code)).toEqual(Object.keys(ERROR_CODES));
    for (const [code, text] of rows) {
      expect(text?.startsWith(ERROR_CODES[code as keyof typeof ERROR_CODES])).toBe(true);
    }
  });
});
