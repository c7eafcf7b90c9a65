import type { Logger } from 'pino';
import type { MqttLink } from './mqtt-link.js';

/** The part of the outbox the forwarder needs: pending messages in send order, and acknowledgement. */
export interface OutboxQueue {
  next(limit: number, exclude: ReadonlySet<number>): PendingMessage[];
  ack(id: number): void;
  depth(): { messages: number };
}

export interface PendingMessage {
  id: number;
  topic: string;
  payload: string;
  qos: 0 | 1;
  retain: boolean;
  createdMs: number;
  expiresMs?: number | null;
}

/**
 * Moves messages from the SQLite outbox to the broker: a bounded number in flight, each deleted from the
 * outbox only when the broker has acknowledged it. A message that fails stays where it is and goes again
 * on the next connection, so delivery is at least once; consumers deduplicate on messageId.
 */
export class Forwarder {
  private inFlight = new Set<number>();
  /** Bumped on every disconnection, so a late callback of an old connection cannot free a slot of the new. */
  private generation = 0;
  private sent = 0;

  constructor(
    private readonly outbox: OutboxQueue,
    private readonly link: MqttLink,
    private readonly maxInFlight: number,
    private readonly log: Logger,
  ) {}

  get sentCount(): number {
    return this.sent;
  }

  /** Send what fits in the window now; called on enqueue, on connect and whenever a slot frees up. */
  kick(): void {
    while (this.link.connected && this.inFlight.size < this.maxInFlight) {
      let batch: PendingMessage[];
      try {
        batch = this.outbox.next(this.maxInFlight - this.inFlight.size, this.inFlight);
      } catch (err) {
        this.log.error({ err: (err as Error).message }, 'outbox read failed');
        return;
      }
      if (batch.length === 0) return;
      for (const message of batch) {
        this.inFlight.add(message.id);
        void this.send(message, this.generation);
      }
    }
  }

  /** The connection is gone: whatever was in flight is still in the outbox and will be sent again. */
  disconnected(): void {
    this.generation++;
    this.inFlight = new Set();
  }

  private async send(message: PendingMessage, generation: number): Promise<void> {
    try {
      await this.link.publish({
        topic: message.topic,
        payload: this.markReplayed(message),
        qos: message.qos,
        retain: message.retain,
        expiresMs: message.expiresMs ?? undefined,
      });
      this.outbox.ack(message.id);
      this.sent++;
    } catch {
      // Not acknowledged: it stays in the outbox. The link has already counted and logged the cause.
    } finally {
      if (generation === this.generation) {
        this.inFlight.delete(message.id);
        this.kick();
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
