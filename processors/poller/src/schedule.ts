import { Cron } from 'croner';

/** When a feed is polled: every N seconds, or on a six-field cron expression in a time zone. */
export type Schedule = { kind: 'interval'; seconds: number } | { kind: 'cron'; expr: string; timeZone: string };

export class ScheduleError extends Error {
  override name = 'ScheduleError';
}

/** `15m`, `1h`, `90s`, `300` (seconds), or a cron expression with six fields (seconds first). */
export function parseSchedule(text: string, timeZone = 'UTC'): Schedule {
  const t = text.trim();
  const m = /^(\d+)\s*(s|m|h|d)?$/i.exec(t);
  if (m) {
    const seconds = Number(m[1]) * { s: 1, m: 60, h: 3600, d: 86400 }[(m[2] ?? 's').toLowerCase() as 's'];
    if (seconds < 1) throw new ScheduleError('an interval must be at least 1 second');
    return { kind: 'interval', seconds };
  }
  const fields = t.split(/\s+/).length;
  if (fields !== 6)
    throw new ScheduleError(
      `"${t}" is neither an interval (15m, 1h, 300) nor a six-field cron expression (sec min hour day month weekday), it has ${fields} fields`,
    );
  try {
    Intl.DateTimeFormat(undefined, { timeZone });
  } catch {
    throw new ScheduleError(`unknown time zone ${timeZone}`);
  }
  try {
    new Cron(t, { timezone: timeZone, paused: true, mode: '6-part' });
  } catch (e) {
    throw new ScheduleError(`invalid cron expression "${t}": ${(e as Error).message}`);
  }
  return { kind: 'cron', expr: t, timeZone };
}

/** The first due time strictly after `after` (epoch ms). */
export function nextDue(s: Schedule, after: number): number {
  if (s.kind === 'interval') return after + s.seconds * 1000;
  const next = new Cron(s.expr, { timezone: s.timeZone, paused: true, mode: '6-part' }).nextRun(new Date(after));
  if (!next) throw new ScheduleError(`cron expression "${s.expr}" never fires again`);
  return next.getTime();
}

export function describeSchedule(s: Schedule): string {
  return s.kind === 'interval' ? `every ${s.seconds} s` : `${s.expr} (${s.timeZone})`;
}
