import type { Logger } from 'pino';
import type { MaintenanceCalendar } from '../detect/maintenance.js';
import { isCellwatchError } from '../errors.js';
import type { EventPayload, PayloadBody } from '../report/payloads.js';
import type { Topics } from '../report/topics.js';
import type { ErrorCounter } from './error-counter.js';

/** Commands are small JSON objects; anything larger is refused before it is parsed. */
const MAX_COMMAND_BYTES = 64 * 1024;

export interface CommandServices {
  saveWindows(): void;
  /** model/push (any size: the lifecycle applies its own limit) and model/rollback (within the command limit). */
  model(name: string, payload: Buffer): void;
  publish(body: PayloadBody<EventPayload>): void;
  errors: ErrorCounter;
  log: Logger;
}

/**
 * Commands arriving on <prefix>/<site>/command/<name>. Each is acknowledged with an event message, so the
 * sender sees what the site did with it; a bad command is refused with its reason and changes nothing.
 */
export class CommandHandler {
  constructor(
    private readonly topics: Topics,
    private readonly maintenance: MaintenanceCalendar,
    private readonly services: CommandServices,
  ) {}

  handle(topic: string, payload: Buffer, retained = false): void {
    const name = this.topics.commandOf(topic);
    if (name === undefined) return;
    try {
      if (retained) {
        // A retained command comes back on every connection and would be applied again each time.
        this.reject(name, 'retained commands are ignored: publish commands without the retain flag', '');
      } else if (name === 'model/push') {
        // Bundles are large: their limit is the model lifecycle's own (models.maxBundleMb).
        this.services.model(name, payload);
      } else if (payload.length > MAX_COMMAND_BYTES) {
        this.reject(name, `payload of ${payload.length} bytes is over ${MAX_COMMAND_BYTES}`, '');
      } else if (name.startsWith('model/')) {
        this.services.model(name, payload);
      } else if (name === 'maintenance') {
        this.maintenanceCommand(payload);
      } else {
        this.reject(name, `unknown command "${name}"`, '');
      }
    } catch (err) {
      const path = isCellwatchError(err) && typeof err.details.path === 'string' ? err.details.path : '';
      this.reject(name, (err as Error).message, path);
    }
  }

  private maintenanceCommand(payload: Buffer): void {
    const result = this.maintenance.applyCommand(payload, Date.now());
    this.services.saveWindows();
    if ('cleared' in result) {
      this.services.log.info({ cleared: result.cleared }, 'maintenance ended');
      this.services.publish({
        event: 'maintenance_ended',
        message: `${result.cleared.length} maintenance window(s) ended`,
        details: { cleared: result.cleared },
      });
    } else {
      this.services.log.info({ id: result.id, entity: result.entity ?? null }, 'maintenance started');
      this.services.publish({
        event: 'maintenance_started',
        message: `maintenance for ${result.entity ?? 'the whole site'}`,
        details: {
          id: result.id,
          entity: result.entity ?? null,
          start: new Date(result.startMs).toISOString(),
          end: new Date(result.endMs).toISOString(),
          ...(result.reason ? { reason: result.reason } : {}),
        },
      });
    }
  }

  private reject(command: string, reason: string, path: string): void {
    this.services.errors.count('COMMAND_INVALID');
    this.services.log.warn({ code: 'COMMAND_INVALID', command, reason, path }, 'command rejected');
    this.services.publish({
      event: 'command_rejected',
      code: 'COMMAND_INVALID',
      message: reason,
      details: { command, path },
    });
  }
}
