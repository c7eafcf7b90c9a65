import { pino, type Logger } from 'pino';

/**
 * JSON lines on stdout (journald takes them as they are), a fixed message per event and the data in
 * fields. The redaction is a second line of defence: secrets are kept out of logged objects to begin with.
 */
export function createLogger(level: string, site: string, destination: number | string = 1): Logger {
  return pino(
    {
      level,
      base: { site },
      timestamp: pino.stdTimeFunctions.isoTime,
      redact: { paths: ['password', '*.password', 'key', '*.key', 'mqttPassword', 'tlsKey'], censor: '***' },
    },
    pino.destination({ dest: destination, sync: true }),
  );
}
