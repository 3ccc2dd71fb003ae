// pino logger factory: one root per process, child loggers per component, secrets redacted.
import pino, { type Logger, type LoggerOptions } from 'pino';

export type { Logger };

export const REDACT_PATHS: readonly string[] = [
  'token',
  '*.token',
  'secret',
  '*.secret',
  'authorization',
  '*.authorization',
  'headers.authorization',
  'req.headers.authorization',
  'req.headers["x-consul-token"]',
  'password',
  '*.password',
];

export interface CreateLoggerOptions {
  name?: string;
  level?: LoggerOptions['level'];
  /** Where log lines go; defaults to stderr so stdout stays for command output. */
  destination?: NodeJS.WritableStream;
}

export function createLogger(options: CreateLoggerOptions = {}): Logger {
  const level = options.level ?? process.env.SPEAR_LOG_LEVEL ?? process.env.LOG_LEVEL ?? 'info';
  return pino(
    {
      name: options.name ?? 'spear-mesh',
      level,
      redact: { paths: [...REDACT_PATHS], censor: '[redacted]' },
    },
    options.destination ?? pino.destination({ fd: 2, sync: false }),
  );
}

/** A logger that discards everything: the default for library objects created without one. */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
