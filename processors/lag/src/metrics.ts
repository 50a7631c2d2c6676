import { Gauge, type Registry } from 'prom-client';
import { type LagReport, statusCode } from './types.ts';

/**
 * The lag gauges, read from the monitor's last report at scrape time (no extra Kafka calls per
 * scrape). `feedlog_consumer_lag_status` uses Burrow's numbers: 0 NOTFOUND, 1 OK, 2 WARN, 3 ERR,
 * 4 STOP, 5 STALL, 6 REWIND (alert on `!= 1`).
 */
export const lagMetricNames = {
  records: 'feedlog_consumer_lag_records',
  seconds: 'feedlog_consumer_lag_seconds',
  status: 'feedlog_consumer_lag_status',
} as const;

export function registerLagGauges(registry: Registry, last: () => LagReport | undefined): void {
  const partitionLabels = ['group', 'topic', 'partition'] as const;
  new Gauge({
    name: lagMetricNames.records,
    help: 'records between the committed offset and the log end (as kafka-consumer-groups prints LAG)',
    labelNames: partitionLabels,
    registers: [registry],
    collect() {
      this.reset();
      for (const g of last()?.groups ?? []) {
        for (const p of g.partitions)
          this.set({ group: g.group, topic: p.topic, partition: String(p.partition) }, p.lag);
      }
    },
  });
  new Gauge({
    name: lagMetricNames.seconds,
    help: 'age of the oldest unconsumed record (0 when caught up or only a transaction marker is left)',
    labelNames: partitionLabels,
    registers: [registry],
    collect() {
      this.reset();
      for (const g of last()?.groups ?? []) {
        for (const p of g.partitions) {
          if (p.lagSeconds !== null) {
            this.set({ group: g.group, topic: p.topic, partition: String(p.partition) }, p.lagSeconds);
          }
        }
      }
    },
  });
  new Gauge({
    name: lagMetricNames.status,
    help: "Burrow status of the group's worst partition: 0 NOTFOUND, 1 OK, 2 WARN, 3 ERR, 4 STOP, 5 STALL, 6 REWIND",
    labelNames: ['group'] as const,
    registers: [registry],
    collect() {
      this.reset();
      for (const g of last()?.groups ?? []) this.set({ group: g.group }, statusCode[g.status]);
    },
  });
}
