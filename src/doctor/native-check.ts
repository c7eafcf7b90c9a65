import { createRequire } from 'node:module';
import { CellwatchError } from '../errors.js';
import { failure, result, type CheckResult } from './report.js';

/**
 * The compiled parts of a release: better-sqlite3 (the buffer), onnxruntime-node (scoring) and unix-dgram
 * (the systemd notify socket). `--version` loads none of them, so a release built for another platform or
 * Node ABI, or with a damaged .node file, would pass it and then fail at every start of the service. This
 * check loads each one the way the agent does; install.sh runs it before it switches to a new release.
 */

const require = createRequire(import.meta.url);

interface Loaded {
  module: string;
  version: string;
}

const LOADERS: readonly (() => Loaded | Promise<Loaded>)[] = [
  () => {
    const Database = require('better-sqlite3') as typeof import('better-sqlite3');
    const db = new Database(':memory:');
    try {
      const row = db.prepare('select sqlite_version() as version').get() as { version: string };
      return { module: 'better-sqlite3', version: `sqlite ${row.version}` };
    } finally {
      db.close();
    }
  },
  async () => {
    // Importing the package opens its binding and the onnxruntime shared library.
    const ort = await import('onnxruntime-node');
    return { module: 'onnxruntime-node', version: ort.env.versions.node ?? 'unknown' };
  },
  () => {
    require('unix-dgram');
    return { module: 'unix-dgram', version: 'loaded' };
  },
];

export async function checkNativeModules(): Promise<CheckResult> {
  const loaded: Loaded[] = [];
  const platform = `${process.platform}-${process.arch}, Node ABI ${process.versions.modules}`;
  for (const load of LOADERS) {
    try {
      loaded.push(await load());
    } catch (err) {
      const reason = (err instanceof Error ? err.message : String(err)).split('\n')[0];
      const message = `a native module does not load on ${platform}: ${reason}`;
      return failure('native', new CellwatchError('NATIVE_MODULE', message, { platform }), { loaded });
    }
  }
  const names = loaded.map((l) => l.module).join(', ');
  return result('native', 'ok', `${names} load on ${platform}`, { loaded });
}
