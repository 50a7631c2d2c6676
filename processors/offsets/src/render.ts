import Table from 'cli-table3';
import type { ApplyResult } from './apply.ts';
import type { ResetPlan } from './types.ts';

const s = (v: bigint | null) => (v === null ? '-' : v.toString());

/** What will happen to one partition's records, in words. */
export function effect(reprocess: bigint | null): string {
  if (reprocess === null) return 'unknown (no committed offset)';
  if (reprocess > 0n) return `${reprocess} re-read`;
  if (reprocess < 0n) return `${-reprocess} skipped`;
  return 'unchanged';
}

export function totals(plan: ResetPlan): { reread: bigint; skipped: bigint; unknown: number } {
  let reread = 0n;
  let skipped = 0n;
  let unknown = 0;
  for (const p of plan.partitions) {
    if (p.reprocess === null) unknown++;
    else if (p.reprocess > 0n) reread += p.reprocess;
    else skipped -= p.reprocess;
  }
  return { reread, skipped, unknown };
}

/** The plan as a table (Kafka's GROUP TOPIC PARTITION NEW-OFFSET, plus where it came from and the effect). */
export function planTable(plan: ResetPlan): string {
  const t = new Table({
    head: ['topic', 'partition', 'current offset', 'new offset', 'log start', 'log end', 'records'],
    style: { head: [], border: [] },
  });
  for (const p of plan.partitions) {
    t.push([
      p.topic,
      p.partition,
      p.current === null && p.resumeFrom !== null ? `- (resumes at ${p.resumeFrom})` : s(p.current),
      `${p.target}${p.clamped ? ' (clamped)' : ''}`,
      s(p.logStart),
      s(p.logEnd),
      effect(p.reprocess),
    ]);
  }
  return t.toString();
}

export function summary(plan: ResetPlan, execute: boolean, result?: ApplyResult): string {
  const t = totals(plan);
  const where = plan.store === 'postgres' ? 'consumer_offsets in PostgreSQL' : 'the Kafka group';
  const effectText = `${t.reread} record(s) will be read again, ${t.skipped} skipped${t.unknown ? `, ${t.unknown} partition(s) without a committed offset` : ''}`;
  if (!execute) {
    return `dry run: ${plan.partitions.length} partition(s) of group ${plan.groupId} (${where}); ${effectText}. Nothing changed: add --execute to apply.`;
  }
  const mirror = result?.kafkaMirror && result.kafkaMirror !== 'ok' ? `\nwarning: ${result.kafkaMirror}` : '';
  return `applied: ${result?.applied ?? 0} partition(s) of group ${plan.groupId} reset (${where}); ${effectText.replace('will be', 'are to be')}.${mirror}`;
}

/** JSON-friendly plan: offsets as strings (64-bit), mode with its parameters. */
export function planJson(plan: ResetPlan, execute: boolean, result?: ApplyResult): unknown {
  const t = totals(plan);
  return {
    group: plan.groupId,
    store: plan.store,
    mode: JSON.parse(JSON.stringify(plan.mode, (_, v) => (typeof v === 'bigint' ? v.toString() : v))),
    plannedAt: new Date(plan.plannedAt).toISOString(),
    groupState: plan.groupState,
    executed: execute,
    ...(result ? { applied: result.applied, ...(result.kafkaMirror ? { kafkaMirror: result.kafkaMirror } : {}) } : {}),
    reread: t.reread.toString(),
    skipped: t.skipped.toString(),
    partitions: plan.partitions.map((p) => ({
      topic: p.topic,
      partition: p.partition,
      currentOffset: p.current?.toString() ?? null,
      resumeFrom: p.resumeFrom?.toString() ?? null,
      newOffset: p.target.toString(),
      logStartOffset: p.logStart.toString(),
      logEndOffset: p.logEnd.toString(),
      reprocess: p.reprocess?.toString() ?? null,
      clamped: p.clamped,
    })),
  };
}
