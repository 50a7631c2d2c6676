import { envVar, readEnvVar } from './define-env.ts';
import { commonEnv } from './env.ts';

/**
 * Sampling resolution of the event-loop delay histogram behind the default process metrics
 * (prom-client's `eventLoopMonitoringPrecision`, default 10 ms). At 10 ms the monitor is a timer
 * waking the process 100 times a second whether it has work or not: most of what an idle stage
 * cost once kafkajs stopped spinning. At 1 s the lag gauges still see every stall longer than a
 * second in full and shorter ones in part (a blocked loop delays the next sample by as long), and
 * an idle process wakes once a second for it. FEEDLOG_EVENT_LOOP_RESOLUTION_MS overrides it
 * (bench/idle.ts sets 10 to measure the old cost in the same run).
 */
export function eventLoopResolutionMs(env?: NodeJS.ProcessEnv): number {
  return readEnvVar(envVar(commonEnv, 'FEEDLOG_EVENT_LOOP_RESOLUTION_MS'), env);
}

/**
 * FEEDLOG_FETCH_MAX_WAIT_MS when set: how long an idle fetch parks on the broker, overriding what
 * the stage or materializer chose (bench/idle.ts measures settings side by side with it).
 */
export function fetchMaxWaitOverride(env?: NodeJS.ProcessEnv): number | undefined {
  return readEnvVar(envVar(commonEnv, 'FEEDLOG_FETCH_MAX_WAIT_MS'), env);
}
