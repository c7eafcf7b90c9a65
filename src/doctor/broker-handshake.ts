import { connect as netConnect, type Socket } from 'node:net';
import { performance } from 'node:perf_hooks';
import { connect as tlsConnect, type TLSSocket } from 'node:tls';
import type { LinkOptions } from '../report/mqtt-link.js';

export type HandshakeOutcome =
  { connected: true; connectMs: number; tlsProtocol?: string } | { connected: false; error?: Error; timedOut: boolean };

/** How long after its handshake a TLS connection must stay open to count as accepted. */
const CLIENT_CERT_VERDICT_MS = 750;

// MQTT over WebSocket is reached on the web ports; the handshake below the WebSocket is the same TCP or TLS.
const DEFAULT_PORTS: Readonly<Record<string, number>> = { 'mqtt:': 1883, 'mqtts:': 8883, 'ws:': 80, 'wss:': 443 };
const SECURE = new Set(['mqtts:', 'wss:']);

/**
 * The broker reached without logging in: a TCP connection, and for mqtts:// and wss:// the TLS handshake with the
 * configured CA, client certificate and server name, then closed. Used while the agent runs, when an MQTT
 * login under the site's identity could take the agent's session (see src/agent/pid-file.ts).
 */
export function handshakeOnly(options: LinkOptions, timeoutMs: number): Promise<HandshakeOutcome> {
  const url = new URL(options.url);
  const host = url.hostname.replace(/^\[|\]$/g, '');
  const port = Number(url.port) || DEFAULT_PORTS[url.protocol] || 1883;
  const secure = SECURE.has(url.protocol);
  return new Promise((resolve) => {
    const started = performance.now();
    let socket: Socket | TLSSocket;
    let error: Error | undefined;
    let settled = false;
    const settle = (outcome: HandshakeOutcome) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.destroy();
      resolve(outcome);
    };
    const timer = setTimeout(() => settle({ connected: false, error, timedOut: true }), timeoutMs);
    const done = () => {
      const connectMs = Math.round(performance.now() - started);
      const tlsProtocol = secure ? ((socket as TLSSocket).getProtocol() ?? undefined) : undefined;
      const ok = () => settle({ connected: true, connectMs, ...(tlsProtocol ? { tlsProtocol } : {}) });
      // In TLS 1.3 the client's handshake ends before the broker has judged the client certificate; a refusal
      // arrives as an alert just after. Waiting a moment for it makes "ok" mean the certificate was taken.
      if (secure) setTimeout(ok, CLIENT_CERT_VERDICT_MS);
      else ok();
    };
    if (secure) {
      const tls = options.tls;
      socket = tlsConnect(
        {
          host,
          port,
          ca: tls?.ca,
          cert: tls?.cert,
          key: tls?.key,
          rejectUnauthorized: tls?.rejectUnauthorized ?? true,
          servername: tls?.servername ?? host,
        },
        done,
      );
    } else {
      socket = netConnect({ host, port }, done);
    }
    socket.on('error', (err) => {
      error ??= err;
      settle({ connected: false, error, timedOut: false });
    });
    socket.on('close', () => settle({ connected: false, error, timedOut: false }));
  });
}
