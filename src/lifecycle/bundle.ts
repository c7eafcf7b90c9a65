import { createHash } from 'node:crypto';
import { CellwatchError } from '../errors.js';
import { checkManifest, type Manifest } from './manifest.js';

/**
 * A model bundle as one byte string, the same on disk (`*.cwb`) and as an MQTT payload, so a push is one
 * message and a file can be inspected with the same code that checks a push:
 *
 *   "CWB1" | u32 manifest length | manifest (UTF-8 JSON) | u32 signature length | signature (UTF-8 JSON) | ONNX
 *
 * The signature covers the manifest bytes exactly as they are written (no re-serialisation, so no JSON
 * canonicalisation is needed), and the manifest carries the SHA-256 and size of the ONNX bytes, so one
 * signature covers the whole bundle. An unsigned bundle has a signature length of 0.
 */
const MAGIC = Buffer.from('CWB1', 'ascii');
const MAX_MANIFEST_BYTES = 1024 * 1024;
const MAX_SIGNATURE_BYTES = 4096;

/** Who signed a manifest and the Ed25519 signature of its bytes. */
export interface BundleSignature {
  alg: 'ed25519';
  /** The first 16 hex digits of the SHA-256 of the public key (SPKI DER): names the key to verify with. */
  keyId: string;
  /** Base64 of the 64 signature bytes. */
  value: string;
}

export interface DecodedBundle {
  manifest: Manifest;
  /** The manifest's bytes as signed. */
  manifestBytes: Buffer;
  signature?: BundleSignature;
  onnx: Buffer;
}

export function encodeBundle(manifestBytes: Buffer, signature: BundleSignature | undefined, onnx: Uint8Array): Buffer {
  const signatureBytes = signature ? Buffer.from(JSON.stringify(signature), 'utf8') : Buffer.alloc(0);
  return Buffer.concat([
    MAGIC,
    u32(manifestBytes.length),
    manifestBytes,
    u32(signatureBytes.length),
    signatureBytes,
    onnx,
  ]);
}

/**
 * Split a bundle into its parts and check the manifest against its schema and the ONNX bytes against the
 * manifest's size and hash. The signature is checked by verifyBundle; this says only what the bytes are.
 */
export function decodeBundle(bytes: Uint8Array): DecodedBundle {
  const buffer = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (buffer.length < 12 || !buffer.subarray(0, 4).equals(MAGIC)) {
    throw new CellwatchError('BUNDLE_FORMAT', 'not a cellwatch model bundle (no CWB1 header)', {
      bytes: buffer.length,
    });
  }
  const manifestLength = buffer.readUInt32BE(4);
  if (manifestLength > MAX_MANIFEST_BYTES || 8 + manifestLength + 4 > buffer.length) {
    throw new CellwatchError(
      'BUNDLE_FORMAT',
      `the bundle is cut short or its manifest length (${manifestLength}) is wrong`,
    );
  }
  const manifestBytes = buffer.subarray(8, 8 + manifestLength);
  const signatureAt = 8 + manifestLength;
  const signatureLength = buffer.readUInt32BE(signatureAt);
  const onnxAt = signatureAt + 4 + signatureLength;
  if (signatureLength > MAX_SIGNATURE_BYTES || onnxAt > buffer.length) {
    throw new CellwatchError(
      'BUNDLE_FORMAT',
      `the bundle is cut short or its signature length (${signatureLength}) is wrong`,
    );
  }
  const manifest = checkManifest(parseJson(manifestBytes, 'manifest'));
  const signature =
    signatureLength === 0
      ? undefined
      : checkSignature(parseJson(buffer.subarray(signatureAt + 4, onnxAt), 'signature'));
  const onnx = buffer.subarray(onnxAt);
  if (onnx.length !== manifest.onnxBytes) {
    throw new CellwatchError(
      'BUNDLE_SIZE',
      `the ONNX part has ${onnx.length} bytes, the manifest says ${manifest.onnxBytes}: cut short or padded`,
      { bytes: onnx.length, expected: manifest.onnxBytes },
    );
  }
  const sha = sha256Hex(onnx);
  if (sha !== manifest.onnxSha256) {
    throw new CellwatchError('BUNDLE_HASH', 'the ONNX bytes do not match the SHA-256 in the manifest', {
      sha256: sha,
      expected: manifest.onnxSha256,
    });
  }
  return { manifest, manifestBytes: Buffer.from(manifestBytes), signature, onnx: Buffer.from(onnx) };
}

export function sha256Hex(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

function u32(value: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(value);
  return b;
}

function parseJson(bytes: Buffer, what: string): unknown {
  try {
    return JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes)) as unknown;
  } catch (err) {
    throw new CellwatchError('BUNDLE_FORMAT', `the bundle ${what} is not UTF-8 JSON: ${(err as Error).message}`);
  }
}

function checkSignature(data: unknown): BundleSignature {
  const s = data as Partial<BundleSignature> | null;
  const valid =
    typeof s === 'object' &&
    s !== null &&
    s.alg === 'ed25519' &&
    typeof s.keyId === 'string' &&
    /^[0-9a-f]{16}$/.test(s.keyId) &&
    typeof s.value === 'string' &&
    /^[A-Za-z0-9+/]{86}==$/.test(s.value);
  if (!valid) {
    throw new CellwatchError('BUNDLE_FORMAT', 'the bundle signature is not {alg: ed25519, keyId, value}');
  }
  return { alg: 'ed25519', keyId: s.keyId!, value: s.value! };
}
