import { createPrivateKey, createPublicKey } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { decodeBundle, encodeBundle } from '../../src/lifecycle/bundle.js';
import { checkGolden, makeBundle } from '../../src/lifecycle/make-bundle.js';
import { compareVersions } from '../../src/lifecycle/manifest.js';
import { generateKeyPair, signManifest, verifyBundle, type TrustOptions } from '../../src/lifecycle/signing.js';
import { ModelSession } from '../../src/model/session.js';
import { contractFor, randomModel, rejection, SMALL_LAYOUT, thrown } from '../helpers.js';

const fleet = generateKeyPair();
const other = generateKeyPair();
const fleetKey = createPrivateKey(fleet.privateKeyPem);

function trust(overrides: Partial<TrustOptions> = {}): TrustOptions {
  const key = createPublicKey(fleet.publicKeyPem);
  return { trustedKeys: new Map([[fleet.keyId, key]]), allowUnsigned: false, maxBytes: 16 * 2 ** 20, ...overrides };
}

const model = randomModel(SMALL_LAYOUT, 3, contractFor(SMALL_LAYOUT, { modelId: 'cells-ctx', modelVersion: 7 }));

describe('model bundles', () => {
  it('carry the model id and version of the contract, the bytes, golden scores and a valid signature', async () => {
    const made = await makeBundle(model.bytes, { pipeline: 'cells', goldenRows: 4, privateKey: fleetKey });
    expect(made.keyId).toBe(fleet.keyId);
    expect(made.manifest).toMatchObject({
      modelId: 'cells-ctx',
      version: 7,
      pipeline: 'cells',
      minAgentVersion: '0.1.0',
    });
    expect(made.manifest.onnxBytes).toBe(model.bytes.length);

    const verified = verifyBundle(made.bytes, trust());
    expect(verified.keyId).toBe(fleet.keyId);
    expect(Buffer.compare(verified.onnx, Buffer.from(model.bytes))).toBe(0);

    // The golden scores are the model's own: the same bytes pass, and a check on other scores fails.
    const session = await ModelSession.fromBytes(verified.onnx);
    const golden = verified.manifest.golden!;
    expect(golden.inputs).toHaveLength(4);
    expect(await checkGolden(session, golden)).toEqual([]);
    const wrong = { ...golden, scores: golden.scores.map((s, i) => (i === 2 ? s + 1 : s)) };
    expect((await checkGolden(session, wrong)).map((o) => o.row)).toEqual([2]);
    await session.close();
  });

  it('refuses each kind of bad bundle with its own code', async () => {
    const signed = (await makeBundle(model.bytes, { pipeline: 'cells', goldenRows: 0, privateKey: fleetKey })).bytes;
    const unsigned = (await makeBundle(model.bytes, { pipeline: 'cells', goldenRows: 0 })).bytes;
    const byOther = (
      await makeBundle(model.bytes, {
        pipeline: 'cells',
        goldenRows: 0,
        privateKey: createPrivateKey(other.privateKeyPem),
      })
    ).bytes;
    const code = (bytes: Uint8Array, options = trust()) => thrown(() => verifyBundle(bytes, options)).code;

    expect(code(unsigned)).toBe('BUNDLE_UNSIGNED');
    expect(verifyBundle(unsigned, trust({ allowUnsigned: true })).keyId).toBeUndefined();
    expect(code(byOther)).toBe('BUNDLE_UNTRUSTED');
    expect(code(signed, trust({ maxBytes: signed.length - 1 }))).toBe('BUNDLE_SIZE');
    expect(code(signed.subarray(0, signed.length - 10))).toBe('BUNDLE_SIZE');
    expect(code(signed.subarray(0, 40))).toBe('BUNDLE_FORMAT');
    expect(code(Buffer.from('not a bundle at all'))).toBe('BUNDLE_FORMAT');

    // One flipped bit in the model: the hash no longer matches.
    const tamperedModel = Buffer.from(signed);
    tamperedModel[tamperedModel.length - 20]! ^= 0x01;
    expect(code(tamperedModel)).toBe('BUNDLE_HASH');

    // A manifest edited after signing (a replayed bundle relabelled as a newer version): the signature fails.
    const { manifestBytes, signature, onnx } = decodeBundle(signed);
    const relabelled = Buffer.from(manifestBytes.toString('utf8').replace('"version": 7', '"version": 8'), 'utf8');
    expect(code(encodeBundle(relabelled, signature, onnx))).toBe('BUNDLE_SIGNATURE');
    // Re-signed by a key with the trusted key's id claimed: still the wrong signature.
    const forged = { ...signManifest(relabelled, createPrivateKey(other.privateKeyPem)), keyId: fleet.keyId };
    expect(code(encodeBundle(relabelled, forged, onnx))).toBe('BUNDLE_SIGNATURE');
    // A manifest that is not the schema's: named problems.
    const bad = Buffer.from(JSON.stringify({ format: 'cellwatch-bundle/1', modelId: '' }), 'utf8');
    const error = thrown(() => verifyBundle(encodeBundle(bad, undefined, onnx), trust({ allowUnsigned: true })));
    expect(error.code).toBe('BUNDLE_FORMAT');
    expect(error.message).toMatch(/\/modelId must NOT have fewer than 1 characters/);

    expect(code(signed, trust({ agentVersion: '0.0.9' }))).toBe('BUNDLE_AGENT_VERSION');
  });

  it('refuses to sign a file onnxruntime cannot load', async () => {
    const broken = Buffer.from(model.bytes).subarray(0, 200);
    expect((await rejection(() => makeBundle(broken, { pipeline: 'cells', goldenRows: 0 }))).code).toMatch(/^MODEL_/);
  });

  it('compares agent versions numerically', () => {
    expect(compareVersions('0.10.0', '0.9.3')).toBeGreaterThan(0);
    expect(compareVersions('1.2.3', '1.2.3')).toBe(0);
    expect(compareVersions('1.2.3', '2.0.0')).toBeLessThan(0);
  });
});
