import type { FastifyServerOptions } from 'fastify';

export interface ApiLogOptions {
  level: string;
  /** a file to log to, rotated by size (API_LOG_FILE); stdout when absent (the supervisor's log) */
  file?: string;
  /** rotate when the file reaches this size (pino-roll units: k, m, g); default 20m */
  size?: string;
  /** rotated files kept besides the current one; default 5, so the log is capped near (count + 1) × size */
  keep?: number;
}

/**
 * The API's logger: pino (Fastify's own) writing through a `pino-roll` worker-thread transport
 * when a file is configured, so the log can never grow without bound; 5xx log one line at error
 * level and their stack only at debug (errors.ts).
 */
export function apiLogger(o: ApiLogOptions): NonNullable<FastifyServerOptions['logger']> {
  if (!o.file) return { level: o.level };
  return {
    level: o.level,
    transport: {
      target: 'pino-roll',
      options: { file: o.file, size: o.size ?? '20m', limit: { count: o.keep ?? 5 }, mkdir: true },
    },
  };
}
