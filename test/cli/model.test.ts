import { readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { inputWidth } from '../../src/model/contract.js';
import { contractFor, randomModel, scratchDir, SMALL_LAYOUT } from '../helpers.js';
import { runCli } from './run-cli.js';

let dir: string;
let cleanup: () => Promise<void>;
let modelPath: string;

beforeAll(async () => {
  ({ dir, cleanup } = await scratchDir());
  modelPath = join(dir, 'cells.onnx');
  const contract = contractFor(SMALL_LAYOUT, { modelId: 'cells-ctx', modelVersion: 3 });
  await writeFile(modelPath, randomModel(SMALL_LAYOUT, 3, contract).bytes);
});
afterAll(() => cleanup());

interface Inspection {
  manifest: { modelId: string; version: number; pipeline: string };
  signature: { status: string; keyId?: string };
  golden: { status: string; rows: number };
  model: { inputWidth: number; idMatches: boolean };
}

describe('cellwatch model keygen, sign, inspect', () => {
  it('makes a key pair, signs a bundle with it, and inspects it against trusted keys', async () => {
    const keygen = await runCli(['model', 'keygen', '--out', join(dir, 'fleet')]);
    expect(keygen.code, keygen.stderr).toBe(0);
    const keyId = /^key ([0-9a-f]{16}):/.exec(keygen.stdout)?.[1];
    expect(keyId).toBeDefined();
    expect((await stat(join(dir, 'fleet.key'))).mode & 0o777).toBe(0o600);
    expect(await readFile(join(dir, 'fleet.pub'), 'utf8')).toMatch(/^-----BEGIN PUBLIC KEY-----/);
    const again = await runCli(['model', 'keygen', '--out', join(dir, 'fleet')]);
    expect(again.code).toBe(3);
    expect(again.stderr).toMatch(/fleet\.key exists: a key is never overwritten/);
    // A folder that does not exist yet is made, private to its owner.
    const nested = await runCli(['model', 'keygen', '--out', join(dir, 'keys', 'other')]);
    expect(nested.code, nested.stderr).toBe(0);
    expect((await stat(join(dir, 'keys'))).mode & 0o777).toBe(0o700);

    const sign = await runCli([
      'model',
      'sign',
      '--model',
      modelPath,
      '--key',
      join(dir, 'fleet.key'),
      '--pipeline',
      'cells',
    ]);
    expect(sign.code, sign.stderr).toBe(0);
    expect(sign.stdout).toBe(`${join(dir, 'cells.cwb')}: cells-ctx v3 for pipeline cells, signed by key ${keyId}\n`);

    const inspect = async (...args: string[]) => {
      const r = await runCli(['model', 'inspect', join(dir, 'cells.cwb'), '--json', ...args]);
      return { code: r.code, report: JSON.parse(r.stdout || '{}') as Inspection };
    };
    const trusted = await inspect('--trusted-key', `${join(dir, 'keys', 'other.pub')},${join(dir, 'fleet.pub')}`);
    expect(trusted.code).toBe(0);
    expect(trusted.report).toMatchObject({
      manifest: { modelId: 'cells-ctx', version: 3, pipeline: 'cells' },
      signature: { status: 'valid', keyId },
      golden: { status: 'passed', rows: 8 },
      model: { inputWidth: inputWidth(SMALL_LAYOUT), idMatches: true },
    });
    expect((await inspect('--trusted-key', join(dir, 'keys', 'other.pub'))).report.signature.status).toBe(
      'untrusted key',
    );
    expect((await inspect()).report.signature.status).toBe('not checked (no --trusted-key)');

    const text = await runCli(['model', 'inspect', join(dir, 'cells.cwb')]);
    expect(text.stdout).toMatch(/golden check\s+passed, 0 of 8 off/);
  });

  it('needs --key or an explicit --unsigned, and refuses a tampered bundle with its code', async () => {
    const neither = await runCli(['model', 'sign', '--model', modelPath, '--pipeline', 'cells']);
    expect(neither.code).toBe(2);
    expect(neither.stderr).toMatch(/^error USAGE: give --key to sign, or --unsigned/);

    const out = join(dir, 'dev.cwb');
    const unsigned = await runCli([
      'model',
      'sign',
      '--model',
      modelPath,
      '--unsigned',
      '--pipeline',
      'cells',
      '--out',
      out,
    ]);
    expect(unsigned.stdout).toMatch(/UNSIGNED/);
    const bytes = await readFile(out);
    bytes[bytes.length - 30]! ^= 0xff;
    await writeFile(out, bytes);
    const tampered = await runCli(['model', 'inspect', out]);
    expect(tampered.code).toBe(4);
    expect(tampered.stderr).toMatch(/^error BUNDLE_HASH: the ONNX bytes do not match the SHA-256 in the manifest/);
  });
});
