import { pino, type Logger as PinoLogger } from 'pino';

export type Logger = PinoLogger;

/** Structured logs on stdout. Secrets never reach them: config is logged by name only. */
export function createLogger(level: string): Logger {
  return pino({
    level,
    base: undefined,
    redact: { paths: ['databaseUrl', 'redisUrl', '*.databaseUrl', '*.redisUrl'], censor: '[redacted]' },
  });
}
