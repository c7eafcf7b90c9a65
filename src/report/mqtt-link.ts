import mqtt, { UniqueMessageIdProvider, type IClientOptions, type MqttClient } from 'mqtt';
import type { Logger } from 'pino';
import { CellwatchError } from '../errors.js';

export interface OutgoingMessage {
  topic: string;
  payload: string;
  qos: 0 | 1;
  retain: boolean;
  /** After this instant the message is worth nothing: MQTT 5 brokers drop it instead of delivering it late. */
  expiresMs?: number;
}

export interface LinkOptions {
  url: string;
  clientId: string;
  protocolVersion: 4 | 5;
  username?: string;
  password?: string;
  tls?: { ca?: Buffer; cert?: Buffer; key?: Buffer; rejectUnauthorized: boolean; servername?: string };
  keepaliveS: number;
  sessionExpiryS: number;
  /**
   * MQTT 5: the largest packet this client takes. The broker drops a larger message for this client instead
   * of delivering it, so an oversize push never reaches the agent's memory (3.1.1 has no such limit).
   */
  maximumPacketBytes?: number;
  connectTimeoutMs: number;
  reconnectMinMs: number;
  reconnectMaxMs: number;
  /** Topic filters subscribed at QoS 1 on every connection. */
  subscriptions: string[];
  /** The last will, built anew for each connection so its message id is unique. */
  will: () => OutgoingMessage;
}

export interface LinkHandlers {
  connected(): void;
  disconnected(): void;
  message(topic: string, payload: Buffer, retained: boolean): void;
  error(code: 'MQTT_CONNECT' | 'MQTT_PUBLISH'): void;
}

const STABLE_CONNECTION_MS = 30_000;

/**
 * One MQTT connection at a time, re-created from scratch after every loss with exponential backoff and
 * jitter. A fresh client per connection means nothing survives in mqtt.js's memory between connections:
 * the SQLite outbox is the only queue, so an outage or a restart can neither lose nor pile up messages.
 */
export class MqttLink {
  private client: MqttClient | undefined;
  private connectedAtMs: number | undefined;
  private failures = 0;
  private reconnectTimer: NodeJS.Timeout | undefined;
  private stopping = false;
  private outageLogged = false;
  reconnects = 0;

  constructor(
    private readonly options: LinkOptions,
    private readonly handlers: LinkHandlers,
    private readonly log: Logger,
  ) {}

  get connected(): boolean {
    return this.connectedAtMs !== undefined;
  }

  /** When the current connection was established; messages created before it are replays. */
  get connectedSinceMs(): number | undefined {
    return this.connectedAtMs;
  }

  start(): void {
    this.stopping = false;
    this.connect();
  }

  private connect(): void {
    const { options } = this;
    const will = options.will();
    const clientOptions: IClientOptions = {
      clientId: options.clientId,
      protocolVersion: options.protocolVersion,
      // A persistent session keeps the command subscription, so commands sent while the site is away arrive.
      clean: false,
      keepalive: options.keepaliveS,
      connectTimeout: options.connectTimeoutMs,
      reconnectPeriod: 0,
      resubscribe: false,
      queueQoSZero: false,
      // The default provider stalls once 65,535 ids are in use; this one hands out only free ids.
      messageIdProvider: new UniqueMessageIdProvider(),
      username: options.username,
      password: options.password,
      will: { topic: will.topic, payload: Buffer.from(will.payload), qos: will.qos, retain: will.retain },
      ...(options.protocolVersion === 5
        ? {
            properties: {
              sessionExpiryInterval: options.sessionExpiryS,
              ...(options.maximumPacketBytes === undefined ? {} : { maximumPacketSize: options.maximumPacketBytes }),
            },
          }
        : {}),
      ...(options.tls ?? {}),
    };
    const client = mqtt.connect(options.url, clientOptions);
    this.client = client;
    client.on('connect', () => this.onConnect(client));
    client.on('message', (topic, payload, packet) => this.handlers.message(topic, payload, packet.retain));
    client.on('error', (err) => this.onError(client, err));
    client.on('close', () => this.onClose(client));
  }

  private onConnect(client: MqttClient): void {
    if (client !== this.client) return;
    this.connectedAtMs = Date.now();
    this.log.info(
      { url: redactUrl(this.options.url), clientId: this.options.clientId, failures: this.failures },
      'mqtt connected',
    );
    this.outageLogged = false;
    if (this.options.subscriptions.length > 0) {
      const filters = Object.fromEntries(this.options.subscriptions.map((t) => [t, { qos: 1 as const }]));
      client.subscribe(filters, (err) => {
        if (err) this.log.warn({ err: err.message }, 'mqtt subscribe failed');
        else this.log.info({ filters: this.options.subscriptions }, 'mqtt subscribed');
      });
    }
    this.handlers.connected();
  }

  private onError(client: MqttClient, err: Error): void {
    if (client !== this.client) return;
    this.handlers.error('MQTT_CONNECT');
    if (this.connected) {
      // An error on a live connection (a reset socket, a broker refusing a publish in a way mqtt.js does not
      // map) leaves it in an unknown state, so it is dropped and made anew. It is taken down now, not when
      // 'close' comes: from here on mqtt.js refuses publishes at once, and a link that still looked connected
      // would have the forwarder resend in a chain of microtasks that never lets 'close' in.
      this.log.warn({ code: 'MQTT_CONNECT', err: err.message }, 'mqtt protocol error: reconnecting');
      this.onClose(client);
      return;
    }
    // One warning per outage: a broker that is down for a day must not write a line per attempt.
    if (!this.outageLogged) {
      this.outageLogged = true;
      this.log.warn(
        { code: 'MQTT_CONNECT', err: err.message, url: redactUrl(this.options.url) },
        'mqtt connection failed',
      );
    }
  }

  private onClose(client: MqttClient): void {
    if (client !== this.client) return;
    const wasConnected = this.connected;
    const connectedAtMs = this.connectedAtMs;
    this.client = undefined;
    this.connectedAtMs = undefined;
    client.removeAllListeners('close');
    client.on('error', () => undefined);
    client.end(true);
    if (wasConnected) {
      this.log.warn({ code: 'MQTT_CONNECT' }, 'mqtt connection lost');
      this.handlers.disconnected();
      // Only a connection that held for a while resets the backoff: one the broker drops at once (another
      // client with our id, a message it refuses) must not turn into a reconnect loop.
      if (Date.now() - (connectedAtMs ?? 0) > STABLE_CONNECTION_MS) this.failures = 0;
    }
    if (this.stopping) return;

    const ceilingMs = Math.min(this.options.reconnectMaxMs, this.options.reconnectMinMs * 2 ** this.failures);
    const delayMs = Math.round(ceilingMs * (0.5 + Math.random() * 0.5));
    this.failures = Math.min(this.failures + 1, 30);
    this.reconnectTimer = setTimeout(() => {
      this.reconnectTimer = undefined;
      this.reconnects++;
      this.connect();
    }, delayMs);
  }

  /** Publish and resolve on the broker's acknowledgement (QoS 1) or once written (QoS 0). */
  publish(message: OutgoingMessage): Promise<void> {
    const client = this.client;
    if (!client || !this.connected) {
      return Promise.reject(new CellwatchError('MQTT_CONNECT', 'not connected to the broker'));
    }
    const properties =
      this.options.protocolVersion === 5 && message.expiresMs !== undefined
        ? { messageExpiryInterval: Math.max(1, Math.ceil((message.expiresMs - Date.now()) / 1000)) }
        : undefined;
    return new Promise((resolve, reject) => {
      client.publish(
        message.topic,
        message.payload,
        { qos: message.qos, retain: message.retain, properties },
        (err) => {
          if (err) {
            this.handlers.error('MQTT_PUBLISH');
            const reasonCode = (err as { code?: unknown }).code;
            const details = { topic: message.topic, ...(typeof reasonCode === 'number' ? { reasonCode } : {}) };
            reject(new CellwatchError('MQTT_PUBLISH', `publish failed: ${err.message}`, details));
          } else {
            resolve();
          }
        },
      );
    });
  }

  /** Publish a last message (the offline status) if connected, then close the connection. */
  async stop(last?: OutgoingMessage, timeoutMs = 2_000): Promise<void> {
    this.stopping = true;
    if (this.reconnectTimer) clearTimeout(this.reconnectTimer);
    this.reconnectTimer = undefined;
    const client = this.client;
    if (!client) return;
    if (last && this.connected) {
      await withTimeout(this.publish(last), timeoutMs).catch((err: unknown) => {
        this.log.warn({ err: (err as Error).message }, 'offline status not acknowledged');
      });
    }
    this.client = undefined;
    this.connectedAtMs = undefined;
    await withTimeout(client.endAsync(), timeoutMs).catch(() => client.end(true));
  }
}

function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/** A URL may carry credentials (mqtt://user:pass@host): they never reach a log line. */
export function redactUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = '***';
    return parsed.toString();
  } catch {
    return '<unparseable url>';
  }
}
