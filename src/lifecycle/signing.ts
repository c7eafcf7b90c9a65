import {
  createHash,
  createPrivateKey,
  createPublicKey,
  generateKeyPairSync,
  sign,
  verify,
  type KeyObject,
} from 'node:crypto';
import { CellwatchError } from '../errors.js';
import { VERSION } from '../version.js';
import { decodeBundle, type BundleSignature, type DecodedBundle } from './bundle.js';
import { compareVersions } from './manifest.js';
import { readBoundedFile } from '../io/bounded-read.js';

/** An Ed25519 key file in PEM is under 200 bytes. */
const MAX_KEY_FILE_BYTES = 64 * 1024;

/**
 * Ed25519 signatures over bundle manifests, with Node's own crypto. The private key stays with the central
 * team; a site holds public keys only and trusts a bundle whose manifest one of them signed.
 */

export interface KeyPairPem {
  privateKeyPem: string;
  publicKeyPem: string;
  keyId: string;
}

export function generateKeyPair(): KeyPairPem {
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  return {
    privateKeyPem: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
    publicKeyPem: publicKey.export({ type: 'spki', format: 'pem' }).toString(),
    keyId: keyIdOf(publicKey),
  };
}

/** A short, stable name for a public key: the first 16 hex digits of the SHA-256 of its SPKI DER encoding. */
export function keyIdOf(publicKey: KeyObject): string {
  const der = publicKey.export({ type: 'spki', format: 'der' });
  return createHash('sha256').update(der).digest('hex').slice(0, 16);
}

export async function readPrivateKey(path: string): Promise<KeyObject> {
  const pem = await readKeyFile(path);
  let key: KeyObject;
  try {
    key = createPrivateKey(pem);
  } catch (err) {
    throw keyError(path, `is not a private key: ${(err as Error).message}`);
  }
  if (key.asymmetricKeyType !== 'ed25519') throw keyError(path, `is a ${key.asymmetricKeyType} key, not Ed25519`);
  return key;
}

/** Public keys by key id. A private key file given by mistake is refused: a site must never hold one. */
export async function readPublicKeys(paths: readonly string[]): Promise<Map<string, KeyObject>> {
  const keys = new Map<string, KeyObject>();
  for (const path of paths) {
    const pem = await readKeyFile(path);
    if (pem.includes('PRIVATE KEY')) throw keyError(path, 'holds a private key: give the public key (.pub)');
    let key: KeyObject;
    try {
      key = createPublicKey(pem);
    } catch (err) {
      throw keyError(path, `is not a public key: ${(err as Error).message}`);
    }
    if (key.asymmetricKeyType !== 'ed25519') throw keyError(path, `is a ${key.asymmetricKeyType} key, not Ed25519`);
    keys.set(keyIdOf(key), key);
  }
  return keys;
}

export function signManifest(manifestBytes: Buffer, privateKey: KeyObject): BundleSignature {
  const publicKey = createPublicKey(privateKey);
  return { alg: 'ed25519', keyId: keyIdOf(publicKey), value: sign(null, manifestBytes, privateKey).toString('base64') };
}

export interface TrustOptions {
  trustedKeys: ReadonlyMap<string, KeyObject>;
  /** Development only: take bundles that carry no signature. A signature that is there is always checked. */
  allowUnsigned: boolean;
  /** Refuse bundles larger than this before reading them. */
  maxBytes: number;
  agentVersion?: string;
}

export interface VerifiedBundle extends DecodedBundle {
  /** The key that signed it, or undefined for an unsigned bundle taken because the config allows it. */
  keyId: string | undefined;
}

/**
 * Everything about a bundle that can be checked without running it: size, format, hash, signature by a
 * trusted key, and the agent version it needs. Each failure has its own code, for the push result.
 */
export function verifyBundle(bytes: Uint8Array, options: TrustOptions): VerifiedBundle {
  if (bytes.byteLength > options.maxBytes) {
    throw new CellwatchError(
      'BUNDLE_SIZE',
      `the bundle has ${bytes.byteLength} bytes, over the ${options.maxBytes} limit`,
      {
        bytes: bytes.byteLength,
        limit: options.maxBytes,
      },
    );
  }
  const bundle = decodeBundle(bytes);
  const keyId = checkSignature(bundle, options);
  const agentVersion = options.agentVersion ?? VERSION;
  if (compareVersions(agentVersion, bundle.manifest.minAgentVersion) < 0) {
    throw new CellwatchError(
      'BUNDLE_AGENT_VERSION',
      `the bundle needs agent ${bundle.manifest.minAgentVersion} or later; this is ${agentVersion}`,
      { minAgentVersion: bundle.manifest.minAgentVersion, agentVersion },
    );
  }
  return { ...bundle, keyId };
}

function checkSignature(bundle: DecodedBundle, options: TrustOptions): string | undefined {
  const { signature } = bundle;
  if (!signature) {
    if (options.allowUnsigned) return undefined;
    throw new CellwatchError('BUNDLE_UNSIGNED', 'the bundle is not signed, and this agent takes signed bundles only');
  }
  const key = options.trustedKeys.get(signature.keyId);
  if (!key) {
    throw new CellwatchError(
      'BUNDLE_UNTRUSTED',
      `the bundle is signed by key ${signature.keyId}, which is not trusted`,
      {
        keyId: signature.keyId,
        trusted: [...options.trustedKeys.keys()],
      },
    );
  }
  if (!verify(null, bundle.manifestBytes, key, Buffer.from(signature.value, 'base64'))) {
    throw new CellwatchError(
      'BUNDLE_SIGNATURE',
      `the signature of key ${signature.keyId} does not match the manifest`,
      {
        keyId: signature.keyId,
      },
    );
  }
  return signature.keyId;
}

async function readKeyFile(path: string): Promise<string> {
  try {
    return (await readBoundedFile(path, MAX_KEY_FILE_BYTES)).toString('utf8');
  } catch (err) {
    throw keyError(path, `cannot be read: ${(err as Error).message}`);
  }
}

function keyError(path: string, message: string): CellwatchError {
  return new CellwatchError('BUNDLE_KEY', `key file ${path} ${message}`, { path });
}
