import { describe, expect, it } from 'vitest';
import { nextDue, parseSchedule, ScheduleError } from '../src/schedule.ts';

describe('schedules', () => {
  it('intervals', () => {
    expect(parseSchedule('15m')).toEqual({ kind: 'interval', seconds: 900 });
    expect(parseSchedule('300')).toEqual({ kind: 'interval', seconds: 300 });
    expect(nextDue(parseSchedule('1h'), 1_000)).toBe(3_601_000);
  });
  it('the six-field cron of the systems feedlog replaces, in a time zone, across a DST change', () => {
    const s = parseSchedule('0 0 7,10,13,16,19,22 * * 1-6', 'Europe/Berlin');
    let t = Date.UTC(2026, 2, 27, 20, 30); // Friday 27 March 2026, 21:30 in Berlin; DST starts Sunday
    const fired: string[] = [];
    for (let i = 0; i < 9; i++) {
      t = nextDue(s, t);
      fired.push(new Date(t).toISOString());
    }
    expect(fired).toEqual([
      '2026-03-27T21:00:00.000Z', // Fri 22:00 CET
      '2026-03-28T06:00:00.000Z', // Sat 07:00 CET
      '2026-03-28T09:00:00.000Z',
      '2026-03-28T12:00:00.000Z',
      '2026-03-28T15:00:00.000Z',
      '2026-03-28T18:00:00.000Z',
      '2026-03-28T21:00:00.000Z', // Sat 22:00; no Sunday
      '2026-03-30T05:00:00.000Z', // Mon 07:00 CEST
      '2026-03-30T08:00:00.000Z',
    ]);
  });
  it('refuses five-field cron, bad fields and unknown zones with a clear message', () => {
    expect(() => parseSchedule('0 7 * * *')).toThrow(/six-field cron.*5 fields/);
    expect(() => parseSchedule('0 0 25 * * *')).toThrow(ScheduleError);
    expect(() => parseSchedule('0 0 7 * * *', 'Mars/Olympus')).toThrow(/unknown time zone/);
  });
});
