import { X509Certificate } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import type { TLSSocket } from 'node:tls';
import mqtt, { ErrorWithReasonCode, ReasonCodes, type IClientOptions, type MqttClient } from 'mqtt';
import { linkOptions } from '../agent/link-options.js';
import type { Config } from '../config/schema.js';
import type { Secrets } from '../config/secrets.js';
import { CellwatchError } from '../errors.js';
import { embeddedAddress } from '../report/embedded-broker.js';
import { redactUrl, type LinkOptions } from '../report/mqtt-link.js';
import { handshakeOnly } from './broker-handshake.js';
import { failure, result, type CheckResult } from './report.js';

/**
 * One connection to the configured broker, with the configured TLS material and credentials, to tell a
 * technician whether the agent could report from here and, if not, which of three things to look at: the
 * network (MQTT_CONNECT), the certificates (MQTT_TLS) or the broker's accounts (MQTT_REFUSED).
 *
 * It is not the agent's connection: another client id (the broker would otherwise end the running agent's
 * connection and, with a clean session, discard its queued commands), a clean session, no will (a will
 * would publish "offline" for the site), no subscriptions, no retry.
 */

/** Added to the configured client id; the id is cut so the whole stays within the 64 characters allowed. */
const CLIENT_ID_SUFFIX = '-doctor';
const MAX_CLIENT_ID = 64;
/** A connection that worked is closed politely (DISCONNECT) within this, or dropped. */
const CLOSE_WAIT_MS = 2_000;

/** MQTT 3.1.1 CONNACK return codes (MQTT 5 reason codes come from mqtt.js's table). */
const V4_REFUSALS: Readonly<Record<number, string | undefined>> = {
  1: 'unacceptable protocol version',
  2: 'client identifier rejected',
  3: 'server unavailable',
  4: 'bad user name or password',
  5: 'not authorized',
};

const V5_REASONS: Readonly<Record<number, string | undefined>> = ReasonCodes;

type Outcome =
  { connected: true; connectMs: number; tlsProtocol?: string } | { connected: false; error?: Error; timedOut: boolean };

/**
 * By default only the TCP and TLS layers are tried: a broker that binds client ids to certificates (the
 * shipped mosquitto configuration does) gives any login under the site's certificate the site's own client
 * id, so a login would end the running agent's connection, or, with the agent stopped, discard the session
 * holding its queued commands. `login` asks for the MQTT login too; it is not done while the agent runs.
 */
export async function checkBroker(
  config: Readonly<Config>,
  secrets: Secrets,
  { brokerTimeoutMs: timeoutMs, login }: { brokerTimeoutMs: number; login: boolean },
  agentPid?: number,
): Promise<CheckResult> {
  const url = redactUrl(config.mqtt.url);
  if (embeddedAddress(config.mqtt.url)) {
    return result('broker', 'warn', `embedded demo broker (${config.mqtt.url}): nothing to reach`, { url });
  }
  let options: LinkOptions;
  try {
    options = await linkOptions(config, secrets, () => ({ topic: '', payload: '', qos: 0, retain: false }));
  } catch (err) {
    // The config check reports this failure with its code; reaching the broker was never tried.
    return result('broker', 'skip', `not tried: ${(err as Error).message}`, { url });
  }
  const clientId = `${options.clientId.slice(0, MAX_CLIENT_ID - CLIENT_ID_SUFFIX.length)}${CLIENT_ID_SUFFIX}`;
  const protocol = options.protocolVersion === 5 ? 'MQTT 5' : 'MQTT 3.1.1';
  const figures = { url, clientId, protocol, timeoutMs };
  if (!login || agentPid !== undefined) {
    const reached = await handshakeOnly(options, timeoutMs);
    if (!reached.connected) return failure('broker', explain(reached, options, timeoutMs), { ...figures, agentPid });
    const layer = reached.tlsProtocol
      ? `TLS handshake (${reached.tlsProtocol}) with the configured certificates`
      : 'TCP';
    const why =
      agentPid === undefined
        ? 'add --login, with the agent stopped, to log in too'
        : `the agent (pid ${agentPid}) is running and a login under the site identity could take its session`;
    const detail = `${layer} to ${url} ok in ${reached.connectMs} ms; MQTT login not tried: ${why}`;
    const measured = { connectMs: reached.connectMs, tlsProtocol: reached.tlsProtocol, loginTried: false };
    return identity(config, options, result('broker', 'ok', detail, { ...figures, agentPid, ...measured }));
  }
  const outcome = await connectOnce(options, clientId, timeoutMs);
  if (outcome.connected) {
    const over = outcome.tlsProtocol ? `${protocol} over ${outcome.tlsProtocol}` : protocol;
    const detail = `connected to ${url} in ${outcome.connectMs} ms (${over}) as ${clientId}`;
    const measured = { connectMs: outcome.connectMs, tlsProtocol: outcome.tlsProtocol };
    return identity(config, options, result('broker', 'ok', detail, { ...figures, ...measured }));
  }
  return failure('broker', explain(outcome, options, timeoutMs), figures);
}

/**
 * A broker that takes the site from the client certificate (deploy/mosquitto: the CN is the user name that
 * its ACL matches against the topics) refuses every message of a site whose certificate names another site,
 * although the connection itself succeeds.
 */
function identity(config: Readonly<Config>, options: LinkOptions, reached: CheckResult): CheckResult {
  const cert = options.tls?.cert;
  if (!cert) return reached;
  let commonName: string | undefined;
  try {
    commonName = /(?:^|\n)CN=([^\n]*)/.exec(new X509Certificate(cert).subject)?.[1];
  } catch {
    return reached;
  }
  if (commonName === config.site) return { ...reached, certificateCn: commonName };
  const detail =
    `${reached.detail}; but the client certificate's CN is ${JSON.stringify(commonName ?? '')}, not the site id ` +
    `${JSON.stringify(config.site)}: a broker that takes the site from the certificate refuses its every message`;
  return { ...reached, status: 'warn', detail, certificateCn: commonName ?? null };
}

function connectOnce(options: LinkOptions, clientId: string, timeoutMs: number): Promise<Outcome> {
  const clientOptions: IClientOptions = {
    clientId,
    protocolVersion: options.protocolVersion,
    clean: true,
    keepalive: options.keepaliveS,
    // mqtt.js's own CONNACK timer runs past ours, so a timeout is always reported as ours.
    connectTimeout: timeoutMs + 1_000,
    reconnectPeriod: 0,
    username: options.username,
    password: options.password,
    ...(options.protocolVersion === 5 ? { properties: { sessionExpiryInterval: 0 } } : {}),
    ...(options.tls ?? {}),
  };
  return new Promise((resolve) => {
    const started = performance.now();
    let error: Error | undefined;
    let settled = false;
    const client: MqttClient = mqtt.connect(options.url, clientOptions);
    const settle = (outcome: Outcome, polite: boolean) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      if (!polite) {
        client.end(true);
        resolve(outcome);
        return;
      }
      const dropped = setTimeout(() => client.end(true), CLOSE_WAIT_MS);
      client.end(false, {}, () => {
        clearTimeout(dropped);
        resolve(outcome);
      });
    };
    const timer = setTimeout(() => settle({ connected: false, error, timedOut: true }, false), timeoutMs);
    client.on('connect', () => {
      const connectMs = Math.round(performance.now() - started);
      const tlsProtocol = (client.stream as Partial<TLSSocket>).getProtocol?.() ?? undefined;
      settle({ connected: true, connectMs, ...(tlsProtocol ? { tlsProtocol } : {}) }, true);
    });
    // mqtt.js emits the cause first, then close: keep the first cause, settle on close. The listener stays
    // after settling, so a late error while closing is not an unhandled 'error' event.
    client.on('error', (err) => (error ??= err));
    client.on('close', () => settle({ connected: false, error, timedOut: false }, false));
  });
}

/** The coded reason a connection failed, with what to look at. */
function explain(outcome: Extract<Outcome, { connected: false }>, options: LinkOptions, timeoutMs: number) {
  const { error } = outcome;
  const where = redactUrl(options.url);
  const connect = (reason: string, message: string, extra: Record<string, unknown> = {}) =>
    new CellwatchError('MQTT_CONNECT', message, { reason, ...extra });
  if (error instanceof ErrorWithReasonCode) {
    const reasonCode = error.code;
    const words =
      (options.protocolVersion === 5 ? V5_REASONS[reasonCode] : V4_REFUSALS[reasonCode]) ?? `code ${reasonCode}`;
    const message = `${where} refused the connection: ${words} (CONNACK ${reasonCode}); check mqtt.username, password`;
    return new CellwatchError('MQTT_REFUSED', message, { reason: 'connack', reasonCode });
  }
  const errno = (error as { code?: unknown } | undefined)?.code;
  const code = typeof errno === 'string' ? errno : undefined;
  const said = error?.message ?? 'no error given';
  if (code !== undefined && isTlsError(code)) {
    // A certificate judged by date may be fine and the clock wrong: a box whose clock runs years ahead sees
    // every certificate as expired, and the clock check cannot tell a late date from a wrong one.
    const dated = code === 'CERT_NOT_YET_VALID' || code === 'CERT_HAS_EXPIRED';
    const hint = dated ? '; is the clock right? else renew the certificate' : '; check mqtt.tls.ca, cert, servername';
    return new CellwatchError('MQTT_TLS', `TLS with ${where} failed: ${said} (${code})${hint}`, {
      reason: 'tls',
      tlsError: code,
    });
  }
  if (outcome.timedOut) {
    const message = `${where} did not answer within ${timeoutMs / 1000} s: a firewall dropping packets, or no broker`;
    return connect('timeout', message);
  }
  if (code === 'ENOTFOUND' || code === 'EAI_AGAIN' || code === 'EAI_FAIL') {
    return connect('dns', `the broker host of ${where} does not resolve (${code}); check the name and DNS`, { errno });
  }
  if (code === 'ECONNREFUSED') {
    return connect('refused', `nothing listens at ${where} (ECONNREFUSED): broker down, or wrong port`, { errno });
  }
  if (error !== undefined && code === undefined) {
    // mqtt.js's own errors carry no code: a packet it cannot parse, from a server that is not an MQTT broker.
    return connect('protocol', `${where} answered, but not as an MQTT broker: ${said}`);
  }
  if (code === undefined || code === 'ECONNRESET' || code === 'EPIPE') {
    const maybe = options.tls ? ' (over TLS: it may have refused the client certificate)' : '';
    return connect('closed', `${where} closed the connection without answering${maybe}: ${said}`, {
      ...(code === undefined ? {} : { errno }),
    });
  }
  return connect('network', `cannot reach ${where}: ${said}`, { errno });
}

/** Node's certificate verification codes and OpenSSL's handshake errors. */
function isTlsError(code: string): boolean {
  // EPROTO: the answer was not TLS at all (a plain MQTT or HTTP port behind an mqtts:// URL).
  return /^ERR_(SSL|TLS)_|CERT|SELF_SIGNED|ISSUER|LEAF_SIGNATURE|HOSTNAME_MISMATCH|^EPROTO$/.test(code);
}
