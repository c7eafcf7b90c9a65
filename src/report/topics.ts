import { randomUUID } from 'node:crypto';
import type { TopicName } from './payloads.js';

/** The pseudo-site of fleet-wide commands; no site may take this name. */
export const FLEET = 'all';

/** Every topic of one site: <prefix>/<site>/<name>, and the command filter the agent subscribes to. */
export class Topics {
  constructor(
    readonly prefix: string,
    readonly site: string,
  ) {}

  of(name: TopicName): string {
    return `${this.prefix}/${this.site}/${name}`;
  }

  get commandFilter(): string {
    return `${this.prefix}/${this.site}/command/#`;
  }

  /** Model commands sent to every site at once; no other command is fleet-wide. */
  get fleetModelFilter(): string {
    return `${this.prefix}/${FLEET}/command/model/#`;
  }

  /**
   * The command name of a command topic ("maintenance" for <prefix>/<site>/command/maintenance, "model/push"
   * for <prefix>/all/command/model/push), else undefined.
   */
  commandOf(topic: string): string | undefined {
    const head = `${this.prefix}/${this.site}/command/`;
    if (topic.startsWith(head)) return topic.slice(head.length);
    const fleet = `${this.prefix}/${FLEET}/command/`;
    return topic.startsWith(`${fleet}model/`) ? topic.slice(fleet.length) : undefined;
  }
}

/** The fields every payload starts with: a unique id, the site and the creation time. */
export function envelope(site: string, nowMs: number): { messageId: string; site: string; createdAt: string } {
  return { messageId: randomUUID(), site, createdAt: new Date(nowMs).toISOString() };
}
