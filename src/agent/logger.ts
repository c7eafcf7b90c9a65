import { pino, type Logger } from 'pino';
import { stdoutIsJournal } from '../service/sd-notify.js';

/** pino's numeric levels to syslog priorities: trace and debug 7, info 6, warn 4, error 3, fatal 2. */
function syslogPriority(level: number): number {
  if (level >= 60) return 2;
  if (level >= 50) return 3;
  if (level >= 40) return 4;
  return level >= 30 ? 6 : 7;
}

/**
 * Under systemd, stdout is the journal's stream: a `<N>` prefix (sd-daemon(3)) gives each line its
 * priority, and journald strips it, so `journalctl -p warning` works and MESSAGE is still the JSON line.
 */
export function journalPrefixed(line: string): string {
  const level = /^\{"level":(\d+)/.exec(line);
  return level ? `<${syslogPriority(Number(level[1]))}>${line}` : line;
}

/**
 * JSON lines on stdout, a fixed message per event and the data in fields. The redaction is a second line of
 * defence: secrets are kept out of logged objects to begin with.
 */
export function createLogger(level: string, site: string, destination: number | string = 1): Logger {
  const journal = destination === 1 && stdoutIsJournal();
  return pino(
    {
      level,
      base: { site },
      timestamp: pino.stdTimeFunctions.isoTime,
      redact: { paths: ['password', '*.password', 'key', '*.key', 'mqttPassword', 'tlsKey'], censor: '***' },
      ...(journal ? { hooks: { streamWrite: journalPrefixed } } : {}),
    },
    pino.destination({ dest: destination, sync: true }),
  );
}
