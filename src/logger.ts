import { pino, type DestinationStream, type Logger as PinoLogger } from 'pino';

export type Logger = PinoLogger;

/**
 * Structured logs on stdout (or `destination`). Secrets never reach them: config is logged by
 * name only, and credentials a request carries are censored wherever they appear.
 */
export function createLogger(level: string, destination?: DestinationStream): Logger {
  return pino(
    {
      level,
      base: undefined,
      redact: {
        paths: ['databaseUrl', 'redisUrl', '*.databaseUrl', '*.redisUrl', '*.headers.authorization', '*.headers.cookie', 'token', '*.token'],
        censor: '[redacted]',
      },
    },
    destination,
  );
}
