import type { Outbox } from '../buffer/outbox.js';
import type { SampleStore } from '../buffer/samples.js';
import type { AlarmTracker } from '../detect/alarms.js';
import type { MaintenanceCalendar } from '../detect/maintenance.js';
import type { HealthPayload, PayloadBody } from '../report/payloads.js';
import type { MqttLink } from '../report/mqtt-link.js';
import type { ErrorCounter } from './error-counter.js';
import type { Pipeline } from './pipeline.js';

type HealthBody = PayloadBody<HealthPayload>;

interface HealthSources {
  samples: SampleStore;
  outbox: Outbox;
  link: MqttLink;
  pipelines: readonly Pipeline[];
}

interface AgentFacts {
  readonly errors: ErrorCounter;
  bufferBytes(): number;
}

/**
 * The agent's own vital signs, measured when asked. CPU is the process's CPU time since the previous report
 * over the wall time since then, so a busy minute shows even if the agent is idle when the report is made.
 */
export class HealthReporter {
  private readonly startedMs = Date.now();
  private lastWallMs = Date.now();
  private lastCpu = process.cpuUsage();

  constructor(
    private readonly agent: AgentFacts,
    private readonly sources: HealthSources,
    private readonly alarms: AlarmTracker,
    private readonly maintenance: MaintenanceCalendar,
  ) {}

  report(nowMs = Date.now()): HealthBody {
    const { samples, outbox, link, pipelines } = this.sources;
    const cpu = process.cpuUsage(this.lastCpu);
    const wallUs = Math.max(1, (nowMs - this.lastWallMs) * 1000);
    this.lastCpu = process.cpuUsage();
    this.lastWallMs = nowMs;

    const depth = outbox.depth();
    const counters = this.alarms.counters();
    return {
      uptimeS: Math.round((nowMs - this.startedMs) / 1000),
      rssBytes: process.memoryUsage.rss(),
      cpuPct: Math.round(((cpu.user + cpu.system) / wallUs) * 1000) / 10,
      buffer: { rows: samples.count(), bytes: this.agent.bufferBytes() },
      outbox: { messages: depth.messages, bytes: depth.bytes, dropped: { ...outbox.droppedTotals() } },
      mqtt: { connected: link.connected, reconnects: link.reconnects },
      pipelines: pipelines.map((p) => p.health(nowMs)),
      alarms: {
        opened: counters.opens,
        closed: counters.closes,
        levelShifts: counters.levelShifts,
        open: this.alarms.openIncidents().length,
        rateLimited: counters.suppressed,
        silenced: counters.silenced,
      },
      errors: this.agent.errors.snapshot(),
      maintenance: this.maintenance.active(nowMs).map((w) => ({
        id: w.id,
        entity: w.entity ?? null,
        start: new Date(w.startMs).toISOString(),
        end: new Date(w.endMs).toISOString(),
      })),
    };
  }
}
