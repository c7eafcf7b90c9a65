import type { Logger } from 'pino';
import type { ServiceNotifier } from './sd-notify.js';

/** Whether the daemon's main loop does its work; a reason when it does not. */
export type Liveness = { healthy: true } | { healthy: false; reason: string };

/**
 * Feeds systemd's watchdog only while the daemon is healthy. A blocked event loop stops the timer and so the
 * pings; a loop that runs but no longer does its work (the buffer stopped answering, scoring stuck) is caught
 * by the liveness check, and the pings are withheld until systemd restarts the service.
 */
export class WatchdogFeeder {
  private timer: NodeJS.Timeout | undefined;
  private withheld: string | undefined;
  private lastStatus: string | undefined;

  /** statusLine, when given, is what `systemctl status` shows; it is sent with a ping when it changes. */
  constructor(
    private readonly notifier: ServiceNotifier,
    private readonly liveness: (nowMs: number) => Liveness,
    private readonly log: Logger,
    private readonly statusLine?: () => string,
  ) {}

  start(): void {
    const intervalMs = this.notifier.watchdogIntervalMs;
    if (intervalMs === undefined || this.timer) return;
    this.tick();
    this.timer = setInterval(() => this.tick(), intervalMs);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }

  /** One check; public so a test can drive it without waiting for the timer. */
  tick(nowMs = Date.now()): boolean {
    let state: Liveness;
    try {
      state = this.liveness(nowMs);
    } catch (err) {
      state = { healthy: false, reason: `liveness check failed: ${(err as Error).message}` };
    }
    if (state.healthy) {
      if (this.withheld !== undefined) this.log.info({ was: this.withheld }, 'watchdog resumed');
      this.withheld = undefined;
      const status = this.statusLine?.();
      void this.notifier.watchdog(status === this.lastStatus ? undefined : status);
      this.lastStatus = status;
      return true;
    }
    if (this.withheld !== state.reason) {
      this.log.error({ code: 'SERVICE_UNHEALTHY', reason: state.reason }, 'watchdog withheld');
      this.lastStatus = `unhealthy: ${state.reason}`;
      void this.notifier.status(this.lastStatus);
    }
    this.withheld = state.reason;
    return false;
  }
}
