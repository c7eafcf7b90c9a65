import { createRequire } from 'node:module';
import { dirname, extname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { CellwatchError, isCellwatchError, type ErrorCode } from '../errors.js';

/** How to start a Node child process on a module: its path and the Node options it needs. */
export interface ChildLaunch {
  path: string;
  execArgv: string[];
}

/**
 * The file of a module beside the caller's, with the caller's own extension: `probe-child.js` next to
 * `dist/lifecycle/probe.js` in production, `probe-child.ts` next to `src/lifecycle/probe.ts` under vitest or
 * tsx. A .ts child needs tsx's loader, resolved here to an absolute URL so the child's working directory
 * does not matter.
 *
 * @param callerUrl import.meta.url of the calling module
 * @param relativeBase the child's path relative to the caller's folder, without extension ("probe-child")
 */
export function childLaunch(callerUrl: string, relativeBase: string): ChildLaunch {
  const self = fileURLToPath(callerUrl);
  const extension = extname(self);
  const path = join(dirname(self), `${relativeBase}${extension}`);
  if (extension !== '.ts') return { path, execArgv: [] };
  let loader: string;
  try {
    loader = pathToFileURL(createRequire(callerUrl).resolve('tsx')).href;
  } catch {
    throw new CellwatchError('MODEL_PROBE', 'running from TypeScript sources, a child process needs tsx', {
      reason: 'ipc',
    });
  }
  return { path, execArgv: ['--import', loader] };
}

/** A child's reply when its work threw: the coded error, as plain data that crosses the IPC channel. */
export interface ChildErrorReply {
  type: 'error';
  code: string;
  message: string;
  details: Record<string, unknown>;
}

/**
 * The child's side: take the one request the parent sends, reply with the result or the error it threw, and
 * exit once the reply is out. An error without a code is reported under `fallbackCode`.
 */
export function serveOneRequest<Request, Reply>(
  work: (request: Request) => Promise<Reply>,
  fallbackCode: ErrorCode,
): void {
  process.once('message', (request: Request) => {
    void work(request)
      .catch((err: unknown) => errorReply(err, fallbackCode))
      .then((reply) => {
        process.send?.(reply, () => process.exit(0));
      });
  });
}

function errorReply(err: unknown, fallbackCode: ErrorCode): ChildErrorReply {
  if (isCellwatchError(err)) {
    // Details cross the IPC channel: keep only what structured cloning takes as plain data.
    const details = JSON.parse(JSON.stringify(err.details ?? {})) as Record<string, unknown>;
    return { type: 'error', code: err.code, message: err.message, details };
  }
  return { type: 'error', code: fallbackCode, message: (err as Error).message ?? String(err), details: {} };
}
