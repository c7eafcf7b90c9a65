import { stat } from 'node:fs/promises';
import type { Command } from 'commander';
import { CellwatchError } from '../errors.js';
import { decodeBundle } from '../lifecycle/bundle.js';
import type { Manifest } from '../lifecycle/manifest.js';
import type { ModelStatePayload } from '../report/payloads.js';
import { FLEET } from '../report/topics.js';
import {
  cannotRead,
  checkPrefix,
  checkSite,
  readOrFail,
  session,
  withLink,
  type Answer,
  type LinkFlags,
} from './fleet-link.js';
import { EXIT, table } from './output.js';
import { integer } from './parse.js';

/**
 * The central side of model delivery over MQTT: push a bundle to a site or the fleet, roll a pipeline back,
 * and read the model state every site keeps retained at the broker. Each command is one short clean session;
 * the site's persistent session is what carries a command to a site that is offline right now.
 */
export function registerModelFleet(model: Command): void {
  const push = model
    .command('push')
    .description('send a bundle to one site (and wait for its verdict) or to every site')
    .argument('<bundle>', 'a .cwb bundle from model sign')
    .option('--site <site>', 'the site to send it to')
    .option('--all', 'send it to every site and list the answers that arrive within --wait-s')
    .option('--wait-s <s>', 'seconds to wait for the site result, 0 not to wait', integer(0, 86_400), 60)
    .option('--max-mb <mb>', 'refuse a bundle larger than this', integer(1, 256), 16);
  withLink(push).action((path: string, flags: PushFlags) => pushBundle(path, flags));

  const rollback = model
    .command('rollback')
    .description("return a site's pipeline to its previous model version")
    .requiredOption('--site <site>', 'the site')
    .requiredOption('--pipeline <name>', 'the pipeline to roll back')
    .option('--wait-s <s>', 'seconds to wait for the site result, 0 not to wait', integer(0, 86_400), 60);
  withLink(rollback).action((flags: RollbackFlags) => rollbackPipeline(flags));

  const status = model
    .command('status')
    .description('the active model of every pipeline, from the model/state each site keeps retained')
    .option('--site <site>', 'one site only')
    .option('--wait-ms <ms>', 'how long to collect retained states', integer(100, 600_000), 2000);
  withLink(status).action((flags: StatusFlags) => showStatus(flags));
}

type WaitFlags = LinkFlags & { waitS: number };
type PushFlags = WaitFlags & { site?: string; all?: boolean; maxMb: number };
type RollbackFlags = WaitFlags & { site: string; pipeline: string };
type StatusFlags = LinkFlags & { site?: string; waitMs: number };

async function pushBundle(path: string, flags: PushFlags): Promise<void> {
  if (Boolean(flags.all) === (flags.site !== undefined)) {
    throw new CellwatchError('USAGE', 'give exactly one of --site <site> or --all');
  }
  const target = flags.all ? FLEET : checkSite(flags.site ?? '');
  const topic = `${checkPrefix(flags.prefix)}/${target}/command/model/push`;
  const size = await stat(path).then(
    (s) => s.size,
    (err: unknown) => cannotRead(path, err),
  );
  // Checked before reading and connecting: the site would refuse it anyway, and a broker may drop the link.
  if (size > flags.maxMb * 1024 * 1024) {
    throw new CellwatchError('BUNDLE_SIZE', `${path} has ${size} bytes, over --max-mb ${flags.maxMb}`, { bytes: size });
  }
  const bytes = await readOrFail(path);
  // A damaged file is refused here, not by every site it would reach.
  const { manifest } = decodeBundle(bytes);
  const named = `${manifest.modelId} v${manifest.version} for pipeline ${manifest.pipeline}`;
  const wait = flags.waitS > 0;
  if (flags.all) {
    await pushToFleet(topic, bytes, manifest, flags);
    return;
  }
  const answer = await session(flags, async (link) => {
    const results = wait ? await link.results(target, 'push', manifest) : undefined;
    await link.publish(topic, bytes);
    return results?.next(flags.waitS * 1000);
  });
  if (flags.json) {
    const result = answer?.result ?? null;
    console.log(JSON.stringify({ topic, bytes: bytes.length, manifest: { ...manifest, golden: undefined }, result }));
  } else {
    console.log(`pushed ${path} (${named}, ${bytes.length} bytes) to ${topic}`);
    if (!wait) console.log(`not waiting: the result arrives on ${flags.prefix}/${target}/model/result`);
  }
  if (wait) report(target, 'push', answer, flags, `the bundle (${named})`, manifest.pipeline);
}

/**
 * Send to every site and list the answers that arrive within --wait-s. Sites that are offline answer when
 * they reconnect; a site that does not run the pipeline refuses the bundle (BUNDLE_PIPELINE).
 */
async function pushToFleet(topic: string, bytes: Buffer, manifest: Manifest, flags: PushFlags): Promise<void> {
  const results = await session(flags, async (link) => {
    const answers = flags.waitS > 0 ? await link.fleetResults('push', manifest) : undefined;
    await link.publish(topic, bytes);
    return answers ? answers.collect(flags.waitS * 1000) : [];
  });
  const named = `${manifest.modelId} v${manifest.version} for pipeline ${manifest.pipeline}`;
  if (results.some((r) => r.result === 'rejected')) process.exitCode = EXIT.model;
  if (flags.json) {
    console.log(JSON.stringify({ topic, bytes: bytes.length, manifest: { ...manifest, golden: undefined }, results }));
    return;
  }
  console.log(`pushed ${named} (${bytes.length} bytes) to ${topic}`);
  if (flags.waitS === 0) {
    console.log(`not waiting: results arrive per site on ${flags.prefix}/+/model/result`);
    return;
  }
  console.log(`${results.length} site(s) answered within ${flags.waitS} s; others answer when they next connect`);
  if (results.length > 0) {
    const rows = results.map((r) => [r.site, r.result, r.code ?? '-', r.message]);
    console.log(grid([['site', 'result', 'code', 'message'], ...rows]));
  }
}

async function rollbackPipeline(flags: RollbackFlags): Promise<void> {
  const site = checkSite(flags.site);
  const topic = `${checkPrefix(flags.prefix)}/${site}/command/model/rollback`;
  const answer = await session(flags, async (link) => {
    const results = flags.waitS > 0 ? await link.results(site, 'rollback', { pipeline: flags.pipeline }) : undefined;
    await link.publish(topic, Buffer.from(JSON.stringify({ pipeline: flags.pipeline })));
    return results?.next(flags.waitS * 1000);
  });
  if (flags.json) console.log(JSON.stringify({ topic, pipeline: flags.pipeline, result: answer?.result ?? null }));
  else console.log(`sent rollback of pipeline ${flags.pipeline} to ${topic}`);
  if (flags.waitS > 0) {
    report(site, 'rollback', answer, flags, `the rollback of pipeline ${flags.pipeline}`, flags.pipeline);
  }
}

/** Print the site's verdict and set the exit code; no verdict in time is an error of its own. */
function report(
  site: string,
  action: string,
  answer: Answer | undefined,
  flags: WaitFlags,
  what: string,
  pipeline: string,
): void {
  if (!answer) {
    throw new CellwatchError(
      'FLEET_TIMEOUT',
      `no ${action} result from site ${site} within ${flags.waitS} s. ${what} is at the broker, which queues ` +
        `it for a site with a persistent session (the agent keeps one): an offline site takes it when it ` +
        `reconnects, and its result arrives on ${flags.prefix}/${site}/model/result`,
      { site, action, waitS: flags.waitS },
    );
  }
  const { result: r, invalid } = answer;
  if (invalid > 0) console.error(`ignored ${invalid} model/result message(s) that do not match the schema`);
  if (r.result === 'rejected') process.exitCode = EXIT.model;
  if (flags.json) return;
  const model = r.modelId === null ? '' : ` ${r.modelId} v${r.version ?? '?'}`;
  console.log(`site ${site}: ${action}${model} for pipeline ${r.pipeline ?? pipeline}: ${r.result}`);
  console.log(
    table([
      ['code', r.code ?? '-'],
      ['message', r.message],
      ['details', Object.keys(r.details).length > 0 ? JSON.stringify(r.details) : '-'],
      ['at', r.createdAt],
    ]),
  );
}

async function showStatus(flags: StatusFlags): Promise<void> {
  const site = flags.site === undefined ? '+' : checkSite(flags.site);
  const filter = `${checkPrefix(flags.prefix)}/${site}/model/state`;
  const { states, invalid } = await session(flags, (link) => link.states(filter, flags.waitMs, site !== '+'));
  if (invalid > 0) console.error(`ignored ${invalid} model/state message(s) that do not match the schema`);
  if (flags.json) {
    console.log(JSON.stringify(states));
    return;
  }
  if (states.length === 0) {
    console.log(`no model state on ${filter} within ${flags.waitMs} ms`);
    return;
  }
  const header = ['site', 'pipeline', 'model', 'version', 'origin', 'key', 'activated', 'previous', 'training'];
  const rows = states.flatMap((s) =>
    s.pipelines.length === 0 ? [[s.site, '(no pipelines)']] : s.pipelines.map((p) => [s.site, ...pipelineRow(p)]),
  );
  console.log(grid([header, ...rows]));
}

function pipelineRow(p: ModelStatePayload['pipelines'][number]): string[] {
  const a = p.active;
  const t = p.training;
  const training = !t ? '-' : `${t.state}, baseline ${t.baselineHours.toFixed(1)}/${t.neededHours} h`;
  const trained = t?.lastTrainedAt ? `, trained ${t.lastTrainedAt}` : '';
  const active = a ? [a.modelId, `${a.version}`, a.origin, a.keyId ?? '-', a.activatedAt ?? '-'] : ['(none)'];
  return [
    p.pipeline,
    ...active,
    ...Array<string>(5 - active.length).fill('-'),
    p.previous.join(',') || '-',
    training + trained,
  ];
}

/** Columns padded to their widest cell, so the table lines up in a terminal. */
function grid(rows: string[][]): string {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length)));
  return rows
    .map((r) =>
      r
        .map((cell, i) => cell.padEnd(widths[i]!))
        .join('  ')
        .trimEnd(),
    )
    .join('\n');
}
