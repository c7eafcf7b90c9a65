import type Database from 'better-sqlite3';
import type { Logger } from 'pino';
import { openDatabase, usedSizeBytes, checkpoint } from '../buffer/database.js';
import type { DiskFullEvent } from '../buffer/full-disk.js';
import { KeyValueStore } from '../buffer/kv.js';
import { PmLedger } from '../buffer/pm-ledger.js';
import { Outbox, type OutboxMessage } from '../buffer/outbox.js';
import { SampleStore } from '../buffer/samples.js';
import type { Config } from '../config/schema.js';
import type { Secrets } from '../config/secrets.js';
import { AlarmTracker, type AlarmEvent } from '../detect/alarms.js';
import { MaintenanceCalendar } from '../detect/maintenance.js';
import { Forwarder } from '../report/forwarder.js';
import { Messages } from '../report/messages.js';
import { MqttLink } from '../report/mqtt-link.js';
import { Topics } from '../report/topics.js';
import { VERSION } from '../version.js';
import { isCellwatchError } from '../errors.js';
import type { Liveness } from '../service/watchdog.js';
import { CommandHandler } from './commands.js';
import { ErrorCounter } from './error-counter.js';
import { HealthReporter } from './health.js';
import { linkOptions } from './link-options.js';
import { checkLiveness } from './liveness.js';
import { removePidFile, writePidFile } from './pid-file.js';
import { ModelLifecycle } from './model-lifecycle.js';
import { Pipeline } from './pipeline.js';

const RETENTION_EVERY_MS = 10 * 60_000;
const MAINTENANCE_KEY = 'maintenance.windows';

/** The parts that exist only while the agent runs; start() creates them, stop() takes them down. */
interface Running {
  db: Database.Database;
  samples: SampleStore;
  outbox: Outbox;
  kv: KeyValueStore;
  link: MqttLink;
  forwarder: Forwarder;
  pipelines: Pipeline[];
  lifecycle: ModelLifecycle;
  timers: NodeJS.Timeout[];
  health?: HealthReporter;
}

/**
 * The daemon: pipelines feed the SQLite buffer and the model, the alarm layer turns scores into incidents,
 * and every outgoing message goes through the outbox to the broker. The constructor only assigns.
 */
export class Agent {
  readonly errors = new ErrorCounter();
  readonly topics: Topics;
  private readonly messages: Messages;
  private readonly alarms: AlarmTracker;
  private maintenance = new MaintenanceCalendar();
  private running: Running | undefined;
  private readonly startedAtMs = Date.now();

  constructor(
    readonly config: Readonly<Config>,
    private readonly secrets: Secrets,
    private readonly log: Logger,
  ) {
    this.topics = new Topics(config.mqtt.topicPrefix, config.site);
    this.messages = new Messages(this.topics, VERSION, this.startedAtMs);
    this.alarms = new AlarmTracker(config.alarms, config.site);
  }

  /** Open the buffer, load the models, start the sources and the broker connection. */
  async start(): Promise<void> {
    const { config, log } = this;
    // Everything that can fail on a bad configuration comes before the buffer is opened.
    const options = await linkOptions(config, this.secrets, () => this.messages.status('offline', Date.now(), 'lost'));
    const lifecycle = await ModelLifecycle.create(config, this.errors, log);
    const opened = openDatabase(config.storage.path);
    const { db } = opened;
    writePidFile(config.storage.path);
    const onDiskFull = (event: DiskFullEvent) => this.diskFull(event);
    const samples = new SampleStore(db, config.storage.path, config.storage, onDiskFull);
    const outboxLimits = { maxMessages: config.mqtt.outbox.maxMessages, maxBytes: config.mqtt.outbox.maxMb * 2 ** 20 };
    const outbox = new Outbox(db, outboxLimits, onDiskFull);
    const kv = new KeyValueStore(db);
    const pmLedger = new PmLedger(db);
    this.maintenance = this.restoreMaintenance(kv);

    const commands = new CommandHandler(this.topics, this.maintenance, {
      saveWindows: () => kv.set(MAINTENANCE_KEY, this.maintenance.toJSON()),
      model: (name, payload) => lifecycle.handle(name, payload),
      publish: (body) => this.publish(this.messages.event(body, Date.now())),
      errors: this.errors,
      log,
    });
    const link = new MqttLink(
      options,
      {
        connected: () => this.connected(),
        disconnected: () => this.running?.forwarder.disconnected(),
        message: (topic, payload, retained) => commands.handle(topic, payload, retained),
        error: (code) => this.errors.count(code),
      },
      log,
    );
    const forwarder = new Forwarder(outbox, link, config.mqtt.maxInFlight, log, (id, topic, reason) => {
      this.errors.count('OUTBOX_DROPPED');
      log.error({ code: 'OUTBOX_DROPPED', id, topic, reason }, 'message refused by the broker');
    });
    this.running = { db, samples, outbox, kv, link, forwarder, pipelines: [], lifecycle, timers: [] };

    if (opened.recovered) {
      this.errors.count('STORAGE_CORRUPT');
      log.error({ code: 'STORAGE_CORRUPT', ...opened.recovered }, 'buffer replaced');
      this.publish(
        this.messages.event(
          {
            event: 'storage_recovered',
            code: 'STORAGE_CORRUPT',
            message: 'the buffer failed its integrity check; a fresh one was created',
            details: { ...opened.recovered },
          },
          Date.now(),
        ),
      );
    }

    const services = {
      samples,
      pmLedger,
      storedFeatures: (name: string) => {
        const stored = kv.get(`features.${name}`);
        return Array.isArray(stored) ? stored.map(String) : undefined;
      },
      storeFeatures: (name: string, features: readonly string[]) => kv.set(`features.${name}`, features),
      errors: this.errors,
      log,
      alarms: this.alarms,
      onAlarms: (events: AlarmEvent[]) => this.alarmEvents(events),
      isSilenced: (entity: string, timestampMs: number) => this.maintenance.isSilenced(entity, timestampMs),
      topKpis: config.alarms.topKpis,
      afterBatch: (pipeline: Pipeline) => lifecycle.afterBatch(pipeline),
    };
    for (const pipelineConfig of config.pipelines) {
      const pipeline = new Pipeline(pipelineConfig, services);
      this.running.pipelines.push(pipeline);
      await pipeline.start(await lifecycle.initial(pipelineConfig));
    }
    lifecycle.attach(this.running.pipelines, {
      scorer: services,
      publishResult: (body) => this.publish(this.messages.modelResult(body, Date.now())),
      publishState: (body) => this.publish(this.messages.modelState(body, Date.now())),
    });

    link.start();
    this.running.health = new HealthReporter(this, this.running, this.alarms, this.maintenance);
    this.every(config.health.intervalS * 1000, () => this.publishHealth());
    this.every(config.summary.intervalMinutes * 60_000, () => this.publishSummaries());
    this.every(RETENTION_EVERY_MS, () => this.housekeeping());
    log.info({ pipelines: config.pipelines.length, version: VERSION, storage: config.storage.path }, 'agent started');
  }

  /** Windows set by command before a restart; unreadable stored windows are dropped, not fatal. */
  private restoreMaintenance(kv: KeyValueStore): MaintenanceCalendar {
    try {
      return MaintenanceCalendar.fromJSON(kv.get(MAINTENANCE_KEY) ?? [], this.config.maintenance);
    } catch (err) {
      if (isCellwatchError(err)) throw err;
      this.errors.count('STORAGE_CORRUPT');
      this.log.error({ code: 'STORAGE_CORRUPT', err: (err as Error).message }, 'stored maintenance windows dropped');
      return MaintenanceCalendar.fromConfig(this.config.maintenance);
    }
  }

  private every(intervalMs: number, task: () => void): void {
    const timer = setInterval(() => {
      try {
        task();
      } catch (err) {
        this.log.error({ err: (err as Error).message }, 'periodic task failed');
      }
    }, intervalMs);
    this.running?.timers.push(timer);
  }

  /** Store a message in the outbox and wake the forwarder; a full disk loses the message, not the agent. */
  publish(message: OutboxMessage): void {
    const running = this.running;
    if (!running) return;
    try {
      const { dropped } = running.outbox.enqueue(message);
      const count = Object.values(dropped).reduce((a, b) => a + b, 0);
      if (count > 0) {
        this.errors.count('OUTBOX_DROPPED', count);
        this.log.warn({ code: 'OUTBOX_DROPPED', dropped }, 'outbox full');
      }
    } catch (err) {
      this.errors.count('STORAGE_WRITE');
      this.log.error({ code: 'STORAGE_WRITE', err: (err as Error).message, kind: message.kind }, 'outbox write failed');
      return;
    }
    running.forwarder.kick();
  }

  private connected(): void {
    const running = this.running;
    if (!running) return;
    running.link.publish(this.messages.status('online', Date.now())).catch(() => undefined);
    running.forwarder.connected();
  }

  private alarmEvents(events: AlarmEvent[]): void {
    const nowMs = Date.now();
    for (const event of events) {
      this.log.info(
        {
          event: event.type,
          incidentId: event.incident.id,
          pipeline: event.incident.pipeline,
          entity: event.incident.entity,
          peakScore: event.incident.peakScore,
          threshold: event.incident.threshold,
        },
        'incident',
      );
      const pipeline = this.running?.pipelines.find((p) => p.name === event.incident.pipeline);
      if (event.type === 'open') pipeline?.countIncident();
      if (event.type === 'level_shift') pipeline?.rebaseline(event.incident.entity, event.incident.firstFlaggedAtMs);
      this.publish(this.messages.anomaly(event, nowMs));
    }
  }

  private publishHealth(): void {
    const health = this.running?.health;
    if (health) this.publish(this.messages.health(health.report(), Date.now()));
  }

  /** One summary per pipeline; at shutdown (final) a pipeline that took no rows since the last one is skipped. */
  private publishSummaries(final = false): void {
    const nowMs = Date.now();
    const open = this.alarms.openIncidents();
    for (const pipeline of this.running?.pipelines ?? []) {
      const { periodStartMs, ...figures } = pipeline.takeSummary(nowMs);
      if (final && figures.rowsIn === 0) continue;
      const incidentsOpen = open.filter((i) => i.pipeline === pipeline.name).length;
      const body = {
        ...figures,
        incidentsOpen,
        pipeline: pipeline.name,
        periodStart: new Date(periodStartMs).toISOString(),
        periodEnd: new Date(nowMs).toISOString(),
      };
      this.publish(this.messages.summary(body, nowMs));
    }
  }

  private housekeeping(): void {
    const running = this.running;
    if (!running) return;
    const nowMs = Date.now();
    const deleted = running.samples.enforceRetention(nowMs);
    if (deleted.deletedByAge + deleted.deletedBySize > 0) this.log.info({ ...deleted }, 'retention applied');
    else checkpoint(running.db);
    if (this.maintenance.prune(nowMs).length > 0) running.kv.set(MAINTENANCE_KEY, this.maintenance.toJSON());
  }

  private diskFull(event: DiskFullEvent): void {
    this.errors.count('STORAGE_FULL');
    this.log.error({ code: 'STORAGE_FULL', ...event }, 'disk full');
  }

  /** Every source that can end (a replayed file) has ended; false when there is none. */
  sourcesEnded(): boolean {
    const finite = (this.running?.pipelines ?? []).filter((p) => p.finite);
    return finite.length > 0 && finite.every((p) => p.ended);
  }

  /** For the service watchdog: the buffer answers and no pipeline's scoring is stuck. */
  liveness(nowMs: number): Liveness {
    const running = this.running;
    return running ? checkLiveness(running.db, running.pipelines, nowMs) : { healthy: false, reason: 'not running' };
  }

  get brokerConnected(): boolean {
    return this.running?.link.connected ?? false;
  }

  /** One line for the service manager's status: the link, the outbox backlog, the open incidents. */
  statusLine(): string {
    const outbox = this.running?.outbox.depth().messages ?? 0;
    const link = this.brokerConnected ? 'connected to the broker' : 'broker unreachable: buffering';
    return `running, ${link}, ${outbox} messages queued, ${this.alarms.openIncidents().length} incidents open`;
  }

  /** Bytes the buffer uses, for health. */
  bufferBytes(): number {
    return this.running ? usedSizeBytes(this.running.db) : 0;
  }

  /**
   * Drain and stop: stop the sources, score what they handed over, send the last summaries and health, give
   * the outbox drainTimeoutS to empty, publish offline, close the database. Returns true when the outbox
   * emptied. With drain false (a start that failed half-way) it only releases what was opened.
   */
  async stop(drain = true): Promise<boolean> {
    const running = this.running;
    if (!running) return true;
    for (const timer of running.timers) clearInterval(timer);
    await running.lifecycle.stop();
    for (const pipeline of running.pipelines) await pipeline.stop();
    let drained = false;
    if (drain) {
      this.publishSummaries(true);
      this.publishHealth();
      drained = await running.forwarder.drain(this.config.drainTimeoutS * 1000);
    }
    const left = running.outbox.depth().messages;
    await running.link.stop(this.messages.status('offline', Date.now(), 'shutdown'));
    try {
      checkpoint(running.db);
    } catch (err) {
      // A full disk can refuse even the checkpoint; the WAL is folded in at the next start instead.
      this.log.error({ code: 'STORAGE_WRITE', err: (err as Error).message }, 'checkpoint at shutdown failed');
    }
    running.db.close();
    removePidFile(this.config.storage.path);
    this.running = undefined;
    this.log.info({ drained, outboxLeft: left }, 'agent stopped');
    return drained;
  }
}
