import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { Command } from 'commander';
import { CellwatchError } from '../errors.js';
import { decodeBundle } from '../lifecycle/bundle.js';
import { checkGolden, makeBundle } from '../lifecycle/make-bundle.js';
import { generateKeyPair, readPrivateKey, readPublicKeys, verifyBundle } from '../lifecycle/signing.js';
import { checkWritable, writeFailure } from '../io/output-file.js';
import { inputWidth } from '../model/contract.js';
import { inspectModelBytes, MAX_MODEL_BYTES } from '../model/model-file.js';
import { ModelSession } from '../model/session.js';
import { registerModelFleet } from './model-fleet.js';
import { fixed, table } from './output.js';
import { integer, list } from './parse.js';

/** The central side of the model lifecycle: keys, signed bundles, and what a bundle holds. */
export function registerModel(program: Command): void {
  const model = program
    .command('model')
    .description('model bundles: signing keys, signed bundles, inspection; push, rollback and status over MQTT');

  model
    .command('keygen')
    .description('make an Ed25519 signing key pair: <prefix>.key (keep it central) and <prefix>.pub (for sites)')
    .requiredOption('--out <prefix>', 'path prefix of the two files, e.g. keys/fleet-2026')
    .action(async (flags: { out: string }) => {
      const pair = generateKeyPair();
      // A new key usually goes into a new folder; made private, since it will hold the signing key.
      await mkdir(dirname(flags.out), { recursive: true, mode: 0o700 }).catch((err: unknown) => {
        throw writeFailure(dirname(flags.out), err);
      });
      await checkWritable(`${flags.out}.key`);
      // 'wx': never overwrite a signing key, whose loss would lock every site out of new models.
      await writeKey(`${flags.out}.key`, pair.privateKeyPem, 0o600);
      await writeKey(`${flags.out}.pub`, pair.publicKeyPem, 0o644);
      console.log(`key ${pair.keyId}: private ${flags.out}.key (mode 600), public ${flags.out}.pub`);
    });

  model
    .command('sign')
    .description('wrap an ONNX model in a bundle: manifest (id, version, pipeline, SHA-256, golden scores), signed')
    .requiredOption('--model <file>', 'ONNX model with cellwatch metadata')
    .requiredOption('--pipeline <name>', 'the agent pipeline the model is for')
    .option('--key <file>', 'Ed25519 private key from model keygen')
    .option('--unsigned', 'make an unsigned bundle (only agents that allow unsigned bundles take it)')
    .option('--out <file>', 'bundle to write (default: the model path with .cwb)')
    .option('--min-agent-version <x.y.z>', 'oldest agent that may take the bundle (default: this version)')
    .option('--golden <rows>', 'sample inputs whose scores the bundle carries', integer(0, 64), 8)
    .action(async (flags: SignFlags) => {
      if (Boolean(flags.unsigned) === (flags.key !== undefined)) {
        throw new CellwatchError('USAGE', 'give --key to sign, or --unsigned for a development bundle');
      }
      if (flags.minAgentVersion !== undefined && !/^\d+\.\d+\.\d+$/.test(flags.minAgentVersion)) {
        throw new CellwatchError('USAGE', `--min-agent-version must be x.y.z, not "${flags.minAgentVersion}"`);
      }
      const out = flags.out ?? flags.model.replace(/\.onnx$/i, '') + '.cwb';
      await checkWritable(out);
      const privateKey = flags.key === undefined ? undefined : await readPrivateKey(flags.key);
      const onnx = await readModelBytes(flags.model);
      const made = await makeBundle(onnx, {
        pipeline: flags.pipeline,
        minAgentVersion: flags.minAgentVersion,
        goldenRows: flags.golden,
        privateKey,
      });
      await writeFile(out, made.bytes);
      const { manifest } = made;
      const signedBy = made.keyId ? `signed by key ${made.keyId}` : 'UNSIGNED';
      console.log(`${out}: ${manifest.modelId} v${manifest.version} for pipeline ${manifest.pipeline}, ${signedBy}`);
    });

  model
    .command('inspect')
    .description('show a bundle: manifest, model contract, hash, signature and golden check')
    .argument('<bundle>', 'a .cwb bundle')
    .option('--trusted-key <files>', 'public keys to check the signature with (comma-separated)', list)
    .option('--json', 'print the result as JSON')
    .action(async (path: string, flags: { trustedKey?: string[]; json?: boolean }) => {
      const report = await inspectBundle(path, flags.trustedKey ?? []);
      if (flags.json) console.log(JSON.stringify(report));
      else printInspection(path, report);
      if (report.signature.status === 'invalid' || report.golden.status === 'failed') process.exitCode = 4;
    });

  registerModelFleet(model);
}

interface SignFlags {
  model: string;
  pipeline: string;
  key?: string;
  unsigned?: boolean;
  out?: string;
  minAgentVersion?: string;
  golden: number;
}

type InspectReport = Awaited<ReturnType<typeof inspectBundle>>;

async function inspectBundle(path: string, trustedKeyFiles: readonly string[]) {
  const bytes = await readFile(path).catch((err: unknown) => {
    throw new CellwatchError('INPUT_NOT_FOUND', `cannot read ${path}: ${(err as Error).message}`, { path });
  });
  // Format, size and hash are checked by decoding; a failure there is an error of its own.
  const bundle = decodeBundle(bytes);
  const info = inspectModelBytes(bundle.onnx);
  const signature = await signatureStatus(bytes, trustedKeyFiles, bundle.signature?.keyId);
  let golden: { status: 'absent' | 'passed' | 'failed'; rows: number; off: number } = {
    status: 'absent',
    rows: 0,
    off: 0,
  };
  if (bundle.manifest.golden) {
    const session = await ModelSession.fromBytes(bundle.onnx);
    try {
      const off = await checkGolden(session, bundle.manifest.golden);
      golden = {
        status: off.length === 0 ? 'passed' : 'failed',
        rows: bundle.manifest.golden.inputs.length,
        off: off.length,
      };
    } finally {
      await session.close();
    }
  }
  const { contract } = info;
  return {
    manifest: { ...bundle.manifest, golden: undefined },
    model: {
      kpis: contract.layout.kpis,
      inputWidth: inputWidth(contract.layout),
      entityColumns: contract.normalization.entityColumns,
      threshold: contract.scoring.threshold,
      thresholdPercentile: contract.scoring.thresholdPercentile,
      irVersion: info.irVersion,
      opset: info.opset,
      idMatches: contract.modelId === bundle.manifest.modelId && contract.modelVersion === bundle.manifest.version,
    },
    signature,
    golden,
  };
}

async function signatureStatus(bytes: Buffer, trustedKeyFiles: readonly string[], keyId: string | undefined) {
  if (keyId === undefined) return { status: 'unsigned' as const, keyId };
  if (trustedKeyFiles.length === 0) return { status: 'not checked (no --trusted-key)' as const, keyId };
  const trustedKeys = await readPublicKeys(trustedKeyFiles);
  try {
    verifyBundle(bytes, {
      trustedKeys,
      allowUnsigned: false,
      maxBytes: Number.MAX_SAFE_INTEGER,
      agentVersion: '999.0.0',
    });
    return { status: 'valid' as const, keyId };
  } catch (err) {
    if (err instanceof CellwatchError && err.code === 'BUNDLE_UNTRUSTED')
      return { status: 'untrusted key' as const, keyId };
    if (err instanceof CellwatchError && err.code === 'BUNDLE_SIGNATURE') return { status: 'invalid' as const, keyId };
    throw err;
  }
}

function printInspection(path: string, r: InspectReport): void {
  const m = r.manifest;
  console.log(`${path}: ${m.modelId} v${m.version} for pipeline ${m.pipeline}`);
  console.log(
    table([
      ['created', m.createdAt],
      ['min agent version', m.minAgentVersion],
      ['ONNX', `${m.onnxBytes} bytes, SHA-256 ${m.onnxSha256} (matches)`],
      ['signature', r.signature.keyId ? `${r.signature.status}, key ${r.signature.keyId}` : r.signature.status],
      [
        'golden check',
        r.golden.status === 'absent' ? 'none' : `${r.golden.status}, ${r.golden.off} of ${r.golden.rows} off`,
      ],
      ['KPIs', r.model.kpis.join(', ')],
      ['input width', r.model.inputWidth],
      ['entity columns', r.model.entityColumns.join(', ') || '-'],
      ['threshold', `${fixed(r.model.threshold, 4)} (p${r.model.thresholdPercentile})`],
      ['IR version / opset', `${r.model.irVersion} / ${r.model.opset}`],
      ['manifest matches contract', r.model.idMatches ? 'yes' : 'NO: id or version differ from the model metadata'],
    ]),
  );
}

async function readModelBytes(path: string): Promise<Buffer> {
  const bytes = await readFile(path).catch((err: unknown) => {
    throw new CellwatchError('MODEL_READ', `cannot read ${path}: ${(err as Error).message}`, { path });
  });
  if (bytes.length > MAX_MODEL_BYTES) throw new CellwatchError('MODEL_READ', `${path} is larger than a model can be`);
  return bytes;
}

async function writeKey(path: string, pem: string, mode: number): Promise<void> {
  await writeFile(path, pem, { mode, flag: 'wx' }).catch((err: unknown) => {
    const exists = (err as NodeJS.ErrnoException).code === 'EEXIST';
    throw new CellwatchError(
      'OUTPUT_WRITE',
      exists ? `${path} exists: a key is never overwritten` : (err as Error).message,
      {
        path,
      },
    );
  });
}
