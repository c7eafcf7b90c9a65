import type { Logger } from 'pino';
import type { Outbox, PendingMessage } from '../buffer/outbox.js';
import type { MqttLink } from './mqtt-link.js';

/** The part of the outbox the forwarder needs: pending messages in send order, and acknowledgement. */
export type OutboxQueue = Pick<Outbox, 'next' | 'ack' | 'depth'>;

/** A connection that drops sooner than this after it was made, with messages in flight, is suspect. */
const SHORT_CONNECTION_MS = 10_000;
/** Messages acknowledged one at a time before careful mode ends. */
const CAREFUL_ACKS = 20;
/** Failures of a message sent alone before it is deleted as one the broker refuses. */
const MAX_STRIKES = 3;

/**
 * Moves messages from the SQLite outbox to the broker: a bounded number in flight, each deleted from the
 * outbox only when the broker has acknowledged it. A message that fails stays where it is and goes again
 * on the next connection, so delivery is at least once; consumers deduplicate on messageId.
 */
export class Forwarder {
  /** Messages sent and not yet acknowledged: id → topic. */
  private inFlight = new Map<number, string>();
  /** Bumped on every disconnection, so a late callback of an old connection cannot free a slot of the new. */
  private generation = 0;
  private connectedAtMs = 0;
  /**
   * Careful mode sends one message at a time. It starts when connections keep dropping right after they
   * are made with messages in flight, the mark of a message the broker will not take (too large, a topic
   * it refuses): one at a time, the culprit is the message in flight when the connection drops.
   */
  private careful = false;
  private carefulAcks = 0;
  private readonly strikes = new Map<number, number>();

  constructor(
    private readonly outbox: OutboxQueue,
    private readonly link: MqttLink,
    private readonly maxInFlight: number,
    private readonly log: Logger,
    /** A message the broker refuses for good is deleted unsent; the caller counts it. */
    private readonly onRefused: (id: number, topic: string, reason: string) => void = () => undefined,
  ) {}

  /** A new connection is up. */
  connected(): void {
    this.connectedAtMs = Date.now();
    this.kick();
  }

  private get window(): number {
    return this.careful ? 1 : this.maxInFlight;
  }

  /** Send what fits in the window now; called on enqueue, on connect and whenever a slot frees up. */
  kick(): void {
    while (this.link.connected && this.inFlight.size < this.window) {
      let batch: PendingMessage[];
      try {
        batch = this.outbox.next(this.window - this.inFlight.size, new Set(this.inFlight.keys()));
      } catch (err) {
        this.log.error({ err: (err as Error).message }, 'outbox read failed');
        return;
      }
      if (batch.length === 0) return;
      for (const message of batch) {
        this.inFlight.set(message.id, message.topic);
        void this.send(message, this.generation);
      }
    }
  }

  /** The connection is gone: whatever was in flight is still in the outbox and will be sent again. */
  disconnected(): void {
    const shortLived = Date.now() - this.connectedAtMs < SHORT_CONNECTION_MS;
    if (shortLived && this.inFlight.size > 0) {
      const [alone] = this.inFlight.entries();
      if (this.careful && this.inFlight.size === 1 && alone) this.strike(alone[0], alone[1], 'connection dropped');
      this.careful = true;
      this.carefulAcks = 0;
    }
    this.generation++;
    this.inFlight = new Map();
  }

  /** One more failure of a message sent alone; the third time it is deleted as refused. */
  private strike(id: number, topic: string, reason: string): void {
    const strikes = (this.strikes.get(id) ?? 0) + 1;
    this.strikes.set(id, strikes);
    if (strikes < MAX_STRIKES) return;
    this.strikes.delete(id);
    this.outbox.ack(id);
    this.onRefused(id, topic, reason);
  }

  private async send(message: PendingMessage, generation: number): Promise<void> {
    // Only a message settled for good (acknowledged, or refused by the broker) frees its slot for the next at
    // once. A failed one waits for the next kick: a link that fails publishes on the spot would otherwise be
    // retried in a loop of microtasks that starves the event loop, and with it the agent.
    let settled = true;
    try {
      await this.link.publish({
        topic: message.topic,
        payload: this.markReplayed(message),
        qos: message.qos,
        retain: message.retain,
        expiresMs: message.expiresMs,
      });
      this.outbox.ack(message.id);
      this.strikes.delete(message.id);
      if (this.careful && ++this.carefulAcks >= CAREFUL_ACKS) this.careful = false;
    } catch (err) {
      // MQTT 5 brokers say why they refuse a publish (reason code 0x80 and up): such a message never goes.
      const reasonCode = (err as { details?: { reasonCode?: unknown } }).details?.reasonCode;
      if (typeof reasonCode === 'number' && reasonCode >= 0x80) {
        this.outbox.ack(message.id);
        this.onRefused(message.id, message.topic, `broker refused it (reason code 0x${reasonCode.toString(16)})`);
      } else {
        // It stays in the outbox and goes again. The link has already counted and logged the cause.
        settled = false;
      }
    } finally {
      if (generation === this.generation) {
        this.inFlight.delete(message.id);
        if (settled) this.kick();
      }
    }
  }

  /** A message created before the current connection waited through an outage or a restart: say so. */
  private markReplayed(message: PendingMessage): string {
    const since = this.link.connectedSinceMs;
    if (since === undefined || message.createdMs >= since) return message.payload;
    try {
      const body = JSON.parse(message.payload) as Record<string, unknown>;
      return JSON.stringify({ ...body, replayed: true });
    } catch {
      return message.payload;
    }
  }

  /** Wait until the outbox is empty and nothing is in flight, or the time is up; true when drained. */
  async drain(timeoutMs: number): Promise<boolean> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      this.kick();
      if (this.inFlight.size === 0 && this.outbox.depth().messages === 0) return true;
      if (Date.now() >= deadline) return false;
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
  }
}
