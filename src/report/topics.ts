import { randomUUID } from 'node:crypto';
import type { TopicName } from './payloads.js';

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

  /** The command name of a command topic ("maintenance" for <prefix>/<site>/command/maintenance), else undefined. */
  commandOf(topic: string): string | undefined {
    const head = `${this.prefix}/${this.site}/command/`;
    return topic.startsWith(head) ? topic.slice(head.length) : undefined;
  }
}

/** The fields every payload starts with: a unique id, the site and the creation time. */
export function envelope(site: string, nowMs: number): { messageId: string; site: string; createdAt: string } {
  return { messageId: randomUUID(), site, createdAt: new Date(nowMs).toISOString() };
}
