import { Counter, Histogram, type Registry } from 'prom-client';
import type { PollReport } from './poller.ts';

/** Prometheus metrics of the poller, fed by its onPoll reports. */
export function pollerMetrics(registry: Registry): (r: PollReport) => void {
  const polls = new Counter({
    name: 'feedlog_poller_polls_total',
    help: 'Feed polls by outcome (items, not_modified, retry_later, error)',
    labelNames: ['outcome'],
    registers: [registry],
  });
  const produced = new Counter({
    name: 'feedlog_poller_items_produced_total',
    help: 'Items produced to raw-headlines (new in their feed)',
    registers: [registry],
  });
  const parsed = new Counter({
    name: 'feedlog_poller_items_parsed_total',
    help: 'Items read from feed bodies, new or not',
    registers: [registry],
  });
  const seconds = new Histogram({
    name: 'feedlog_poller_poll_seconds',
    help: 'One poll: fetch, parse, produce, record',
    buckets: [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
    registers: [registry],
  });
  return (r) => {
    polls.inc({ outcome: r.outcome });
    produced.inc(r.produced);
    parsed.inc(r.items);
    seconds.observe(Math.max(0, r.finishedAt - r.startedAt) / 1000);
  };
}
